"""Normal and Laplace likelihoods for real-valued data, with fixed or learned scale."""

from __future__ import annotations

import math

import pyro.distributions as dist
import torch
from torch import Tensor, nn
from torch.nn.functional import softplus

from pyro_vae.likelihoods._base import LIKELIHOODS, Likelihood, check_scale
from pyro_vae.registry import BOOLEAN, POSITIVE

__all__ = ["SCALE_RANGES", "LaplaceLikelihood", "NormalLikelihood"]

SCALE_RANGES = {"scale": POSITIVE, "learn_scale": BOOLEAN}


class _LocationScaleLikelihood(Likelihood):
    """``x_d ~ F(g_d(z), s_d)`` where ``s`` is fixed or learned per data dimension."""

    family: type[dist.TorchDistribution]

    def __init__(self, event_shape: tuple[int, ...], scale: float = 1.0, learn_scale: bool = True) -> None:
        super().__init__(event_shape)
        scale = check_scale(self.name, scale)
        raw = torch.full(self.event_shape, math.log(math.expm1(scale)))
        if learn_scale:
            self.raw_scale = nn.Parameter(raw)
        else:
            self.register_buffer("raw_scale", raw)

    @property
    def scale(self) -> Tensor:
        """The per-dimension scale ``s`` (shape ``event_shape``)."""
        return softplus(self.raw_scale)

    def _base(self, params: Tensor) -> dist.TorchDistribution:
        loc = self._single(params)
        return self.family(loc, self.scale.expand_as(loc))


@LIKELIHOODS.register("normal", SCALE_RANGES)
class NormalLikelihood(_LocationScaleLikelihood):
    """``p(x | z) = prod_d N(x_d; g_d(z), s_d^2)``.

    Parameters
    ----------
    event_shape
        Shape of one data point.
    scale
        The standard deviation ``s`` (its initial value when learned).
    learn_scale
        Learn ``s`` per data dimension (True) or keep it fixed.
    """

    name = "normal"
    family = dist.Normal


@LIKELIHOODS.register("laplace", SCALE_RANGES)
class LaplaceLikelihood(_LocationScaleLikelihood):
    """``p(x | z) = prod_d Laplace(x_d; g_d(z), s_d)``.

    Parameters
    ----------
    event_shape
        Shape of one data point.
    scale
        The Laplace scale ``s`` (its initial value when learned).
    learn_scale
        Learn ``s`` per data dimension (True) or keep it fixed.
    """

    name = "laplace"
    family = dist.Laplace
