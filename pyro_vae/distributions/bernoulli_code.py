"""A vector of independent bits as one distribution, enumerable over all its joint values.

``Independent(Bernoulli(logits), 1)`` scores a code correctly, but Pyro cannot
enumerate it (an independent distribution has no enumerable support). The
decoder reads all bits at once, so exact enumeration must run over the
``2**k`` joint codes; :class:`BernoulliCode` provides exactly that support.
"""

from __future__ import annotations

from typing import ClassVar

import pyro.distributions as dist
import torch
from pyro.distributions import constraints
from pyro.distributions.torch_distribution import TorchDistribution
from torch import Tensor
from torch.nn.functional import softplus

__all__ = ["BernoulliCode", "RelaxedBernoulliCode", "all_codes"]


def all_codes(bits: int, like: Tensor) -> Tensor:
    """Every code of ``bits`` bits, ``(2**bits, bits)``, most significant bit first."""
    powers = 2 ** torch.arange(bits - 1, -1, -1, device=like.device)
    return (torch.arange(2**bits, device=like.device).unsqueeze(-1) // powers % 2).to(like.dtype)


class BernoulliCode(TorchDistribution):
    """``k`` independent bits ``z_i ~ Bernoulli(sigmoid(logits_i))``, event shape ``(k,)``.

    Parameters
    ----------
    logits
        Log-odds of each bit being 1, shape ``(*batch_shape, k)``.
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {"logits": constraints.real}
    support = constraints.independent(constraints.boolean, 1)
    has_enumerate_support = True

    def __init__(self, logits: Tensor, validate_args: bool | None = None) -> None:
        self.logits = logits
        super().__init__(logits.shape[:-1], logits.shape[-1:], validate_args=validate_args)

    @property
    def probs(self) -> Tensor:
        return torch.sigmoid(self.logits)

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def variance(self) -> Tensor:
        p = self.probs
        return p * (1 - p)

    def expand(self, batch_shape: torch.Size, _instance: BernoulliCode | None = None) -> BernoulliCode:
        return BernoulliCode(self.logits.expand(*batch_shape, *self.event_shape))

    def sample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        with torch.no_grad():
            return torch.bernoulli(self.probs.expand(self.shape(torch.Size(sample_shape))))

    def log_prob(self, value: Tensor) -> Tensor:
        # log sigmoid(l) for 1, log sigmoid(-l) for 0; broadcasts over enumerated values
        return (value * self.logits - softplus(self.logits)).sum(-1)

    def entropy(self) -> Tensor:
        p = self.probs
        return (softplus(self.logits) - p * self.logits).sum(-1)

    def support_size(self) -> int:
        """How many joint values :meth:`enumerate_support` lists (``2**k``)."""
        return 2 ** self.event_shape[0]

    def enumerate_support(self, expand: bool = True) -> Tensor:
        codes = all_codes(self.event_shape[0], self.logits)
        codes = codes.reshape(codes.shape[:1] + (1,) * len(self.batch_shape) + codes.shape[1:])
        if expand:
            codes = codes.expand(codes.shape[:1] + self.batch_shape + self.event_shape)
        return codes

    def relaxed(self, temperature: float, straight_through: bool = False) -> RelaxedBernoulliCode:
        """The Concrete (Gumbel-sigmoid) relaxation of these bits at ``temperature``."""
        return RelaxedBernoulliCode(temperature, self.logits, straight_through)


class RelaxedBernoulliCode(dist.Independent):
    """``k`` independent Concrete relaxations of Bernoulli bits (Maddison et al. 2017; Jang et al. 2017).

    Samples lie in ``(0, 1)`` and are reparameterised; with ``straight_through``
    they are rounded to ``{0, 1}`` on the way forward while the gradient flows
    through the relaxed value, and densities are taken at the relaxed value.
    """

    def __init__(self, temperature: float, logits: Tensor, straight_through: bool = False) -> None:
        cls = dist.RelaxedBernoulliStraightThrough if straight_through else dist.RelaxedBernoulli
        self.temperature, self.straight_through = temperature, straight_through
        tau = torch.as_tensor(temperature, dtype=logits.dtype, device=logits.device)
        super().__init__(cls(tau, logits=logits), 1)

    def expand(self, batch_shape: torch.Size, _instance: RelaxedBernoulliCode | None = None) -> RelaxedBernoulliCode:
        logits = self.base_dist.logits.expand(*batch_shape, *self.event_shape)
        return RelaxedBernoulliCode(self.temperature, logits, self.straight_through)
