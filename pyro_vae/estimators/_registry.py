"""The estimator registry and shared option checks."""

from __future__ import annotations

from pyro.infer import ELBO

from pyro_vae.errors import ConfigError
from pyro_vae.registry import BOOLEAN, POSITIVE_INT, Registry

__all__ = ["ESTIMATORS", "PARTICLE_RANGES", "check_particles"]


def check_particles(name: str, num_particles: object) -> int:
    """Validate ``num_particles`` (a positive integer) and return it."""
    if isinstance(num_particles, bool) or not isinstance(num_particles, int) or num_particles < 1:
        raise ConfigError(f"estimator {name!r}: num_particles must be a positive integer, got {num_particles!r}")
    return num_particles


ESTIMATORS: Registry[ELBO] = Registry("estimator", context=("max_plate_nesting",))

#: the ranges of the particle options most estimators share
PARTICLE_RANGES = {"num_particles": POSITIVE_INT, "vectorize_particles": BOOLEAN}
