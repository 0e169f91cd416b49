"""Bernoulli likelihood for binary data."""

from __future__ import annotations

import pyro.distributions as dist
from torch import Tensor

from pyro_vae.distributions import IndependentBernoulli, bernoulli_log_prob
from pyro_vae.likelihoods._base import LIKELIHOODS, Likelihood

__all__ = ["BernoulliLikelihood"]


@LIKELIHOODS.register("bernoulli")
class BernoulliLikelihood(Likelihood):
    """``p(x | z) = prod_d Bernoulli(x_d; sigmoid(g_d(z)))`` for ``x`` in ``{0, 1}``."""

    name = "bernoulli"
    binarize_default = "dynamic"

    def _base(self, params: Tensor) -> dist.TorchDistribution:
        return dist.Bernoulli(logits=self._single(params))

    def distribution(self, params: Tensor) -> dist.TorchDistribution:
        return IndependentBernoulli(self._single(params), len(self.event_shape))

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        if dist.is_validation_enabled():
            return self.distribution(params).log_prob(x)  # checks x
        return bernoulli_log_prob(self._single(params), x, len(self.event_shape))

    def check_support(self, x: Tensor) -> None:
        if bool(((x != 0) & (x != 1)).any()):
            if x.min() >= 0 and x.max() <= 1:
                fix = (
                    'set data.binarize = "dynamic" (or "fixed"), or use likelihood '
                    '"continuous_bernoulli" for values in [0, 1]'
                )
            else:
                fix = (
                    "scale to [0, 1] with data.scale (e.g. data.scale = 255 for 8-bit pixels) "
                    'and binarize, or use likelihood "categorical256" for 8-bit pixels'
                )
            self._fail(x, "binary data (0 or 1)", fix)
