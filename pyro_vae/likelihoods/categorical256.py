"""A 256-way categorical likelihood for 8-bit pixels."""

from __future__ import annotations

import pyro.distributions as dist
import torch
from torch import Tensor

from pyro_vae.likelihoods._base import LIKELIHOODS, Likelihood, check_integers

__all__ = ["Categorical256Likelihood"]

LEVELS = 256


@LIKELIHOODS.register("categorical256")
class Categorical256Likelihood(Likelihood):
    """``p(x | z) = prod_d Categorical(x_d; softmax(g_d(z)))`` over ``{0, ..., 255}``.

    The decoder emits 256 logits per data dimension.
    """

    name = "categorical256"
    params_per_dim = LEVELS

    def _base(self, params: Tensor) -> dist.TorchDistribution:
        logits = params.movedim(-len(self.event_shape) - 1, -1)
        return dist.Categorical(logits=logits)

    def mean(self, params: Tensor) -> Tensor:
        logits = params.movedim(-len(self.event_shape) - 1, -1)
        levels = torch.arange(LEVELS, dtype=logits.dtype, device=logits.device)
        return (logits.softmax(-1) * levels).sum(-1)

    def check_support(self, x: Tensor) -> None:
        check_integers(
            self,
            x,
            0,
            LEVELS - 1,
            'keep raw 8-bit pixels with data.scale = 1 and data.binarize = "none" '
            "(values scaled to [0, 1] must be multiplied back by 255)",
        )
