"""Independent Bernoulli bits: a prior over binary latent codes."""

from __future__ import annotations

import math

import torch
from pyro.nn import PyroParam

from pyro_vae.distributions import BernoulliCode
from pyro_vae.errors import ConfigError
from pyro_vae.priors._registry import PRIORS, Prior
from pyro_vae.registry import BOOLEAN, FINITE, OptionRange

__all__ = ["PROBABILITY", "BernoulliPrior"]

PROBABILITY = OptionRange("a number in (0, 1)", lambda p: FINITE.accepts(p) and 0 < p < 1)


@PRIORS.register("bernoulli", {"probs": PROBABILITY, "learn": BOOLEAN})
class BernoulliPrior(Prior):
    """``p(z) = prod_i Bernoulli(z_i; p_i)`` over ``z in {0, 1}^z_dim``.

    Parameters
    ----------
    z_dim
        Number of bits.
    probs
        Probability that a bit is 1, the same for every bit (``0 < probs < 1``).
    learn
        Learn each bit's probability (starting at ``probs``) instead of fixing it.
    """

    guide_family = "bernoulli"

    def __init__(self, z_dim: int, probs: float = 0.5, learn: bool = False) -> None:
        super().__init__(z_dim)
        if isinstance(probs, bool) or not isinstance(probs, (int, float)) or not 0 < probs < 1:
            raise ConfigError(f"prior 'bernoulli': option 'probs' must be a number in (0, 1), got {probs!r}")
        if not isinstance(learn, bool):
            raise ConfigError(f"prior 'bernoulli': option 'learn' must be true or false, got {learn!r}")
        logits = torch.full((z_dim,), math.log(probs) - math.log1p(-probs))
        if learn:
            self.logits = PyroParam(logits)
        else:
            self.register_buffer("logits", logits)

    def forward(self) -> BernoulliCode:
        return BernoulliCode(self.logits)
