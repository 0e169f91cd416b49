"""The factorised Laplace prior."""

from __future__ import annotations

import pyro.distributions as dist
import torch

from pyro_vae.priors._registry import PRIORS, Prior, check_positive
from pyro_vae.registry import POSITIVE

__all__ = ["LaplacePrior"]


@PRIORS.register("laplace", {"scale": POSITIVE})
class LaplacePrior(Prior):
    """``p(z) = prod_i Laplace(z_i; 0, b)`` with a fixed scale ``b``.

    Parameters
    ----------
    z_dim
        Latent dimension.
    scale
        The Laplace scale ``b`` (variance ``2 b^2``).
    """

    def __init__(self, z_dim: int, scale: float = 1.0) -> None:
        super().__init__(z_dim)
        check_positive("prior 'laplace'", "scale", scale)
        self.register_buffer("zeros", torch.zeros(z_dim))
        self.scale = float(scale)

    def forward(self) -> dist.TorchDistribution:
        return dist.Laplace(self.zeros, torch.full_like(self.zeros, self.scale)).to_event(1)
