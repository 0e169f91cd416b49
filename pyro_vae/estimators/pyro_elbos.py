"""Pyro's own ELBO estimators, registered by name."""

from __future__ import annotations

from pyro.infer import ELBO, Trace_ELBO, TraceMeanField_ELBO

from pyro_vae.estimators._registry import ESTIMATORS, check_particles

__all__ = ["meanfield_elbo", "trace_elbo"]


def _with_particles(
    cls: type[ELBO], name: str, max_plate_nesting: int, num_particles: int, vectorize_particles: bool
) -> ELBO:
    """``cls`` with checked particle options (vectorised only when there is more than one particle)."""
    check_particles(name, num_particles)
    return cls(
        num_particles=num_particles,
        vectorize_particles=vectorize_particles and num_particles > 1,
        max_plate_nesting=max_plate_nesting,
    )


@ESTIMATORS.register("trace")
def trace_elbo(max_plate_nesting: int, num_particles: int = 1, vectorize_particles: bool = True) -> ELBO:
    """Monte Carlo ELBO with reparameterised samples (:class:`pyro.infer.Trace_ELBO`).

    Parameters
    ----------
    num_particles
        Samples of ``z`` per data point averaged in each estimate.
    vectorize_particles
        Draw the particles in one vectorised pass instead of a Python loop.
    """
    return _with_particles(Trace_ELBO, "trace", max_plate_nesting, num_particles, vectorize_particles)


@ESTIMATORS.register("meanfield")
def meanfield_elbo(max_plate_nesting: int, num_particles: int = 1, vectorize_particles: bool = True) -> ELBO:
    """ELBO with the KL term in closed form where one exists (:class:`pyro.infer.TraceMeanField_ELBO`).

    Falls back to a Monte Carlo estimate of ``log p(z) - log q(z)`` for priors
    without an analytic KL (e.g. the mixture prior). Options as for ``trace``.
    """
    return _with_particles(TraceMeanField_ELBO, "meanfield", max_plate_nesting, num_particles, vectorize_particles)
