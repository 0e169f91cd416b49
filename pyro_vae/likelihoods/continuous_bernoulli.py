"""Continuous Bernoulli likelihood for data in [0, 1] (Loaiza-Ganem & Cunningham 2019)."""

from __future__ import annotations

import pyro.distributions as dist
from torch import Tensor

from pyro_vae.likelihoods._base import LIKELIHOODS, Likelihood

__all__ = ["ContinuousBernoulliLikelihood"]


@LIKELIHOODS.register("continuous_bernoulli")
class ContinuousBernoulliLikelihood(Likelihood):
    """``p(x | z) = prod_d CB(x_d; sigmoid(g_d(z)))`` for ``x`` in ``[0, 1]``.

    Unlike a Bernoulli applied to grey levels, this density is normalised on
    ``[0, 1]``, so its log-likelihood is a true log-density.
    """

    name = "continuous_bernoulli"

    def _base(self, params: Tensor) -> dist.TorchDistribution:
        return dist.ContinuousBernoulli(logits=self._single(params))

    def check_support(self, x: Tensor) -> None:
        if bool(((x < 0) | (x > 1)).any()):
            self._fail(
                x,
                "values in [0, 1]",
                "scale to [0, 1] with data.scale (e.g. data.scale = 255 for 8-bit pixels), "
                'or use likelihood "normal" for unbounded data',
            )
