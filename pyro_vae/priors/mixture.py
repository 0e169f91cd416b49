"""A learnable mixture-of-Gaussians prior."""

from __future__ import annotations

import pyro.distributions as dist
import torch
from pyro.distributions import constraints
from pyro.nn import PyroParam

from pyro_vae.distributions import DiagonalNormalMixture
from pyro_vae.priors._registry import PRIORS, Prior, check_positive
from pyro_vae.registry import POSITIVE, POSITIVE_INT

__all__ = ["MixturePrior"]


@PRIORS.register("mixture", {"components": POSITIVE_INT, "spread": POSITIVE})
class MixturePrior(Prior):
    """``p(z) = sum_k pi_k N(z; m_k, diag s_k^2)`` with ``pi``, ``m`` and ``s`` learned.

    Parameters
    ----------
    z_dim
        Latent dimension.
    components
        Number of mixture components ``K``.
    spread
        Standard deviation of the random initial component means; the
        component scales start at 1 and the weights uniform.
    """

    def __init__(self, z_dim: int, components: int = 10, spread: float = 1.0) -> None:
        super().__init__(z_dim)
        check_positive("prior 'mixture'", "components", components, integer=True)
        check_positive("prior 'mixture'", "spread", spread)
        self.components = components
        self.logits = PyroParam(torch.zeros(components))
        self.locs = PyroParam(spread * torch.randn(components, z_dim))
        self.scales = PyroParam(torch.ones(components, z_dim), constraint=constraints.positive)

    def forward(self) -> dist.TorchDistribution:
        return DiagonalNormalMixture(self.logits, self.locs, self.scales)
