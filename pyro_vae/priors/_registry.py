"""The prior registry and the interface every prior implements."""

from __future__ import annotations

import pyro.distributions as dist
from pyro.nn import PyroModule

from pyro_vae.errors import ConfigError
from pyro_vae.registry import Registry

__all__ = ["PRIORS", "Prior", "check_positive"]


class Prior(PyroModule):
    """Base class: ``prior()`` returns ``p(z)`` with event shape ``(z_dim,)``."""

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        if not isinstance(z_dim, int) or isinstance(z_dim, bool) or z_dim < 1:
            raise ConfigError(f"z_dim must be a positive integer, got {z_dim!r}")
        self.z_dim = z_dim

    def forward(self) -> dist.TorchDistribution:
        raise NotImplementedError


def check_positive(kind: str, option: str, value: object, integer: bool = False) -> None:
    """Raise a :class:`ConfigError` unless ``value`` is a positive number (or integer)."""
    types = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, types) or not value > 0:
        what = "a positive integer" if integer else "a positive number"
        raise ConfigError(f"{kind}: option {option!r} must be {what}, got {value!r}")


PRIORS: Registry[Prior] = Registry("prior", context=("z_dim",))
