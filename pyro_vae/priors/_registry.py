"""The prior registry and the interface every prior implements."""

from __future__ import annotations

from typing import Any

import pyro.distributions as dist
from pyro.nn import PyroModule
from torch import Tensor

from pyro_vae.errors import ConfigError
from pyro_vae.registry import Registry

__all__ = ["PRIORS", "Prior", "check_positive"]


class Prior(PyroModule):
    """Base class: ``prior()`` returns ``p(z)`` with event shape ``(z_dim,)``.

    ``guide_family`` names the posterior family the guide pairs with it (a key
    of :data:`pyro_vae.guides.POSTERIOR_FAMILIES`): ``"normal"`` for
    continuous codes, ``"bernoulli"`` for binary ones.
    """

    guide_family = "normal"

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        if not isinstance(z_dim, int) or isinstance(z_dim, bool) or z_dim < 1:
            raise ConfigError(f"z_dim must be a positive integer, got {z_dim!r}")
        self.z_dim = z_dim

    #: False for priors that need the guide (:meth:`bind`) and so only fit the plain VAE
    standalone = True

    def forward(self) -> dist.TorchDistribution:
        raise NotImplementedError

    def log_prob(self, z: Tensor) -> Tensor:
        """``log p(z)`` per code in nats: ``z`` of shape ``(..., z_dim)`` gives shape ``(...)``.

        ``prior().log_prob(z)``; a prior with a closed form may score ``z`` without building the distribution.
        """
        return self().log_prob(z)

    def bind(self, guide: Any, event_shape: tuple[int, ...]) -> None:
        """Called once with the guide that pairs with this prior and the data shape; most priors ignore it."""


def check_positive(kind: str, option: str, value: object, integer: bool = False) -> None:
    """Raise a :class:`ConfigError` unless ``value`` is a positive number (or integer)."""
    types = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, types) or not value > 0:
        what = "a positive integer" if integer else "a positive number"
        raise ConfigError(f"{kind}: option {option!r} must be {what}, got {value!r}")


PRIORS: Registry[Prior] = Registry("prior", context=("z_dim",))
