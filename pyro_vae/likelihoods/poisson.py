"""Poisson likelihood for count data."""

from __future__ import annotations

import pyro.distributions as dist
from torch import Tensor
from torch.nn.functional import softplus

from pyro_vae.likelihoods._base import LIKELIHOODS, Likelihood, check_integers

__all__ = ["PoissonLikelihood"]

_MIN_RATE = 1e-6


@LIKELIHOODS.register("poisson")
class PoissonLikelihood(Likelihood):
    """``p(x | z) = prod_d Poisson(x_d; softplus(g_d(z)))`` for non-negative integer ``x``."""

    name = "poisson"

    def _base(self, params: Tensor) -> dist.TorchDistribution:
        return dist.Poisson(softplus(self._single(params)) + _MIN_RATE)

    def check_support(self, x: Tensor) -> None:
        check_integers(
            self,
            x,
            0,
            float("inf"),
            'pass raw counts (keep data.scale = 1 and data.binarize = "none"), '
            'or use likelihood "normal" for real-valued data',
        )
