"""Pyro's own ELBO estimators, registered by name.

:class:`pyro.infer.TraceGraph_ELBO` computes its surrogate only inside
``loss_and_grads``; :class:`DifferentiableTraceGraph_ELBO` adds the
``differentiable_loss`` that ``elbo(model, guide)`` modules call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyro.infer import ELBO, TraceGraph_ELBO, TraceMeanField_ELBO
from torch import Tensor

from pyro_vae.errors import ConfigError
from pyro_vae.estimators._registry import ESTIMATORS, PARTICLE_RANGES, check_particles
from pyro_vae.estimators.fast_trace import FastTrace_ELBO

__all__ = ["DifferentiableTraceGraph_ELBO", "MeanField_ELBO", "meanfield_elbo", "trace_elbo", "with_particles"]


class DifferentiableTraceGraph_ELBO(TraceGraph_ELBO):  # noqa: N801 (named like Pyro's classes)
    """:class:`pyro.infer.TraceGraph_ELBO` with ``differentiable_loss``: ``-ELBO`` in value, surrogate in gradient."""

    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Tensor:
        elbo, surrogate_loss = self._loss_and_surrogate_loss(model, guide, args, kwargs)
        return -elbo.detach() + (surrogate_loss - surrogate_loss.detach())


def with_particles(
    cls: type[ELBO],
    name: str,
    max_plate_nesting: int,
    num_particles: int,
    vectorize_particles: bool,
    **options: Any,
) -> ELBO:
    """``cls`` with checked particle options (vectorised only when there is more than one particle)."""
    check_particles(name, num_particles)
    return cls(
        num_particles=num_particles,
        vectorize_particles=vectorize_particles and num_particles > 1,
        max_plate_nesting=max_plate_nesting,
        **options,
    )


@ESTIMATORS.register("trace", PARTICLE_RANGES)
def trace_elbo(max_plate_nesting: int, num_particles: int = 1, vectorize_particles: bool = True) -> ELBO:
    """Monte Carlo ELBO (pyro.infer.Trace_ELBO): reparameterised samples, score-function terms for the rest.

    A plain VAE with continuous latents and one particle skips Pyro's tracing
    (:class:`~pyro_vae.estimators.fast_trace.FastTrace_ELBO`): same numbers, less overhead.

    Parameters
    ----------
    num_particles
        Samples of ``z`` per data point averaged in each estimate.
    vectorize_particles
        Draw the particles in one vectorised pass instead of a Python loop.
    """
    return with_particles(FastTrace_ELBO, "trace", max_plate_nesting, num_particles, vectorize_particles)


class MeanField_ELBO(TraceMeanField_ELBO):  # noqa: N801 (named like Pyro's classes)
    """:class:`pyro.infer.TraceMeanField_ELBO` that names the fix when a guide site is not reparameterised."""

    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Tensor:
        try:
            return super().differentiable_loss(model, guide, *args, **kwargs)
        except NotImplementedError as error:
            raise ConfigError(
                f"estimator 'meanfield' needs reparameterized guide sites ({error}): for binary latents "
                "use estimator 'graph', 'relaxed' or 'enum'"
            ) from error


@ESTIMATORS.register("meanfield", PARTICLE_RANGES)
def meanfield_elbo(max_plate_nesting: int, num_particles: int = 1, vectorize_particles: bool = True) -> ELBO:
    """ELBO with the KL term in closed form where one exists (pyro.infer.TraceMeanField_ELBO).

    Falls back to a Monte Carlo estimate of ``log p(z) - log q(z)`` for priors
    without an analytic KL (e.g. the mixture prior). Options as for ``trace``.
    """
    return with_particles(MeanField_ELBO, "meanfield", max_plate_nesting, num_particles, vectorize_particles)
