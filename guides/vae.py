"""The amortized Gaussian guide of a VAE as a Pyro program."""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.nn import PyroModule
from torch import Tensor, nn
from torch.nn.functional import softplus

__all__ = ["MIN_SCALE", "VAEGuide", "raw_for_scale"]

#: added to ``softplus(raw)`` so the posterior scale never underflows to zero
MIN_SCALE = 1e-6


def raw_for_scale(scale: float) -> float:
    """The encoder output that gives posterior standard deviation ``scale``."""
    return math.log(math.expm1(scale - MIN_SCALE))


class VAEGuide(PyroModule):
    """Amortized guide ``q(z | x) = N(mu(x), diag sigma(x)^2)``.

    For each data point ``n`` in the ``data`` plate::

        mu_n, raw_n = split(f(x_n));  sigma_n = softplus(raw_n) + MIN_SCALE
        z_n ~ N(mu_n, diag sigma_n^2)   (site "z")

    Parameters
    ----------
    encoder
        Network ``f`` mapping ``x`` of shape ``(B, *event_shape)`` to
        ``2 * z_dim`` features (``mu`` first, then ``raw``).
    z_dim
        Latent dimension.
    """

    #: encoder features needed per latent dimension
    outputs_per_latent = 2

    def __init__(self, encoder: nn.Module, z_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.z_dim = z_dim

    def posterior(self, x: Tensor) -> dist.TorchDistribution:
        """``q(z | x)`` for a batch, batch shape ``(B,)`` and event shape ``(z_dim,)``."""
        loc, raw = self.encoder(x).split(self.z_dim, dim=-1)
        return dist.Normal(loc, softplus(raw) + MIN_SCALE).to_event(1)

    def forward(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> Tensor:
        """Sample ``z ~ q(z | x)`` for a batch ``x``; same signature as the model."""
        with pyro.plate("data", x.shape[0], dim=-1):
            with poutine.scale(scale=kl_weight):
                return pyro.sample("z", self.posterior(x))
