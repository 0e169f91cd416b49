"""Gaussian priors: the standard normal and a normal with learned moments."""

from __future__ import annotations

import pyro.distributions as dist
import torch
from pyro.distributions import constraints
from pyro.nn import PyroParam
from torch import Tensor

from pyro_vae.distributions import DiagonalNormal, StandardNormal, standard_normal_log_prob
from pyro_vae.priors._registry import PRIORS, Prior

__all__ = ["LearnedNormalPrior", "StandardNormalPrior"]


@PRIORS.register("normal")
class StandardNormalPrior(Prior):
    """``p(z) = N(0, I)``."""

    def __init__(self, z_dim: int) -> None:
        super().__init__(z_dim)
        self.register_buffer("zeros", torch.zeros(z_dim))

    def forward(self) -> dist.TorchDistribution:
        return StandardNormal(self.zeros)

    def log_prob(self, z: Tensor) -> Tensor:
        return self().log_prob(z) if dist.is_validation_enabled() else standard_normal_log_prob(z)


@PRIORS.register("learned_normal")
class LearnedNormalPrior(Prior):
    """``p(z) = N(m, diag s^2)`` with ``m`` and ``s`` learned (initialised at 0 and 1)."""

    def __init__(self, z_dim: int) -> None:
        super().__init__(z_dim)
        self.loc = PyroParam(torch.zeros(z_dim))
        self.scale = PyroParam(torch.ones(z_dim), constraint=constraints.positive)

    def forward(self) -> dist.TorchDistribution:
        return DiagonalNormal(self.loc, self.scale)
