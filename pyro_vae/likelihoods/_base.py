"""The likelihood registry, the interface every likelihood implements, and support checks."""

from __future__ import annotations

from typing import ClassVar

import pyro.distributions as dist
import torch
from torch import Tensor, nn

from pyro_vae.errors import ConfigError, DataError
from pyro_vae.registry import Registry

__all__ = ["LIKELIHOODS", "Likelihood", "value_range"]


def value_range(x: Tensor) -> str:
    """``"values in [lo, hi]"`` for an error message."""
    lo, hi = x.min().item(), x.max().item()
    return f"values in [{lo:g}, {hi:g}]"


class Likelihood(nn.Module):
    """Base class of ``p(x | decoder output)``.

    The decoder emits a tensor of shape ``(..., params_per_dim, *event_shape)``;
    :meth:`distribution` turns it into a distribution with batch shape ``(...)``
    and event shape ``event_shape``.

    Parameters
    ----------
    event_shape
        Shape of one data point, e.g. ``(1, 28, 28)`` or ``(64,)``.
    """

    name: ClassVar[str]
    #: how ``data.binarize = "auto"`` resolves for this likelihood
    binarize_default: ClassVar[str] = "none"
    params_per_dim: int = 1

    def __init__(self, event_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.event_shape = tuple(event_shape)

    def distribution(self, params: Tensor) -> dist.TorchDistribution:
        """The distribution of ``x`` given decoder outputs ``params``."""
        return self._base(params).to_event(len(self.event_shape))

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        """``log p(x | params)`` per example in nats: ``self.distribution(params).log_prob(x)``, shape ``(...)``.

        A likelihood may compute it without building the distribution (the training step calls this).
        """
        return self.distribution(params).log_prob(x)

    def mean(self, params: Tensor) -> Tensor:
        """``E[x | params]``, shape ``(..., *event_shape)``, used for pictures."""
        return self._base(params).mean

    def check_support(self, x: Tensor) -> None:
        """Raise a :class:`DataError` naming the fix if ``x`` is outside the support."""

    def _base(self, params: Tensor) -> dist.TorchDistribution:
        raise NotImplementedError

    def _single(self, params: Tensor) -> Tensor:
        """Drop the parameter axis of a one-parameter likelihood."""
        return params.squeeze(-len(self.event_shape) - 1)

    def _fail(self, x: Tensor, requirement: str, fix: str) -> None:
        raise DataError(f"likelihood {self.name!r} needs {requirement}, but the data has {value_range(x)}: {fix}")


def check_integers(likelihood: Likelihood, x: Tensor, low: float, high: float, fix: str) -> None:
    """Fail unless every value of ``x`` is an integer in ``[low, high]``."""
    if bool(((x < low) | (x > high) | (x != torch.round(x))).any()):
        requirement = f"integers in [{low:g}, {high:g}]" if high < float("inf") else "non-negative integers"
        likelihood._fail(x, requirement, fix)


def check_scale(kind: str, scale: object) -> float:
    """Validate a positive scale option and return it as a float."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise ConfigError(f"likelihood {kind!r}: option 'scale' must be a positive number, got {scale!r}")
    return float(scale)


#: every entry is a Likelihood subclass (its class attributes are read before building)
LIKELIHOODS: Registry[Likelihood] = Registry("likelihood", context=("event_shape",))
