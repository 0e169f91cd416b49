"""Pyro's own ELBO estimators, registered by name.

:class:`pyro.infer.TraceGraph_ELBO` computes its surrogate only inside
``loss_and_grads``; :class:`DifferentiableTraceGraph_ELBO` adds the
``differentiable_loss`` that ``elbo(model, guide)`` modules call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyro.infer import ELBO, Trace_ELBO, TraceEnum_ELBO, TraceGraph_ELBO, TraceMeanField_ELBO
from torch import Tensor

from pyro_vae.estimators._registry import ESTIMATORS, check_particles

__all__ = ["DifferentiableTraceGraph_ELBO", "enum_elbo", "graph_elbo", "meanfield_elbo", "trace_elbo"]


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


@ESTIMATORS.register("trace")
def trace_elbo(max_plate_nesting: int, num_particles: int = 1, vectorize_particles: bool = True) -> ELBO:
    """Monte Carlo ELBO with reparameterised samples (pyro.infer.Trace_ELBO).

    Parameters
    ----------
    num_particles
        Samples of ``z`` per data point averaged in each estimate.
    vectorize_particles
        Draw the particles in one vectorised pass instead of a Python loop.
    """
    return with_particles(Trace_ELBO, "trace", max_plate_nesting, num_particles, vectorize_particles)


@ESTIMATORS.register("meanfield")
def meanfield_elbo(max_plate_nesting: int, num_particles: int = 1, vectorize_particles: bool = True) -> ELBO:
    """ELBO with the KL term in closed form where one exists (pyro.infer.TraceMeanField_ELBO).

    Falls back to a Monte Carlo estimate of ``log p(z) - log q(z)`` for priors
    without an analytic KL (e.g. the mixture prior). Options as for ``trace``.
    """
    return with_particles(TraceMeanField_ELBO, "meanfield", max_plate_nesting, num_particles, vectorize_particles)


@ESTIMATORS.register("graph")
def graph_elbo(max_plate_nesting: int, num_particles: int = 1, vectorize_particles: bool = True) -> ELBO:
    """Score-function terms for non-reparameterisable sites, with baselines (pyro.infer.TraceGraph_ELBO).

    Reparameterised sites are handled as in ``trace``; baselines are declared
    on guide sites (``infer={"baseline": ...}``). Options as for ``trace``.
    """
    return with_particles(DifferentiableTraceGraph_ELBO, "graph", max_plate_nesting, num_particles, vectorize_particles)


@ESTIMATORS.register("enum")
def enum_elbo(max_plate_nesting: int, num_particles: int = 1, vectorize_particles: bool = True) -> ELBO:
    """Sums exactly over enumerated discrete sites, e.g. missing labels (pyro.infer.TraceEnum_ELBO).

    Other sites as for ``trace``; without enumerated sites it is ``trace``. Options as for ``trace``.
    """
    return with_particles(
        TraceEnum_ELBO, "enum", max_plate_nesting, num_particles, vectorize_particles, strict_enumeration_warning=False
    )
