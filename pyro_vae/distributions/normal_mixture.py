"""A mixture of diagonal Gaussians scored with matrix products.

``MixtureSameFamily(Categorical, Normal(...).to_event(1))`` scores ``n`` codes
against ``K`` components by materializing ``(n, K, d)`` differences. Expanding
the square, ``sum_d (z_d - m_kd)^2 / s_kd^2 = z^2 . p_k - 2 z . (m_k p_k) + m_k^2 . p_k``
with ``p = 1 / s^2``, turns that into two ``(n, d) x (d, K)`` products and no
``(n, K, d)`` tensor: 2.6 against 44 ms for 128 codes and 27 against 981 ms for
1,337 codes (``K = 500``, ``d = 64``, one core of the 2-core development machine). The expanded square cancels
large terms, so in float32 it loses digits where the terms are large (narrow
components, codes far from the origin); the few components that dominate each
code's sum are therefore scored again from differences, which keeps the result
as accurate as ``MixtureSameFamily``'s at the same precision (tested).
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from pyro.distributions import constraints
from pyro.distributions.torch_distribution import TorchDistribution
from torch import Tensor

__all__ = ["EXACT_COMPONENTS", "DiagonalNormalMixture"]

#: the components with the largest weight for a code are scored exactly (differences, not the expanded square)
EXACT_COMPONENTS = 8


class DiagonalNormalMixture(TorchDistribution):
    """``p(z) = sum_k softmax(logits)_k N(z; locs_k, diag scales_k^2)``, event shape ``(d,)``.

    Parameters
    ----------
    logits
        Unnormalized log mixing weights, shape ``(K,)``.
    locs, scales
        Component means and standard deviations, shape ``(K, d)``.
    batch_shape
        Batch shape the mixture is broadcast to (Pyro's plates set it through :meth:`expand`).
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "logits": constraints.real_vector,
        "locs": constraints.independent(constraints.real, 2),
        "scales": constraints.independent(constraints.positive, 2),
    }
    support = constraints.independent(constraints.real, 1)
    has_rsample = False

    def __init__(
        self,
        logits: Tensor,
        locs: Tensor,
        scales: Tensor,
        batch_shape: torch.Size | tuple[int, ...] = (),
        validate_args: bool | None = None,
    ) -> None:
        if logits.dim() != 1 or locs.dim() != 2 or locs.shape != scales.shape or locs.shape[0] != logits.shape[0]:
            raise ValueError(
                "DiagonalNormalMixture expects logits of shape (K,) and locs and scales of shape (K, d), got "
                f"{tuple(logits.shape)}, {tuple(locs.shape)} and {tuple(scales.shape)}"
            )
        self.logits, self.locs, self.scales = logits, locs, scales
        super().__init__(torch.Size(batch_shape), locs.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape: torch.Size, _instance: DiagonalNormalMixture | None = None) -> DiagonalNormalMixture:
        return DiagonalNormalMixture(self.logits, self.locs, self.scales, batch_shape)

    def component_log_prob(self, value: Tensor) -> Tensor:
        """``log N(value; locs_k, diag scales_k^2)`` for every component, shape ``(*value.shape[:-1], K)``."""
        centre = self.locs.mean(0)  # centred codes and means make the cancelling terms smaller
        z, locs = value - centre, self.locs - centre
        precision = self.scales.pow(-2)
        square = z.pow(2) @ precision.T - 2 * z @ (locs * precision).T + (locs.pow(2) * precision).sum(-1)
        normalizer = self.scales.log().sum(-1) + 0.5 * self.locs.shape[-1] * math.log(2 * math.pi)
        return -0.5 * square - normalizer

    def exact_component_log_prob(self, value: Tensor, index: Tensor) -> Tensor:
        """``log N(value; locs_k, diag scales_k^2)`` for the components ``index`` (``(*value.shape[:-1], m)``)."""
        z = (value.unsqueeze(-2) - self.locs[index]) / self.scales[index]
        normalizer = self.scales.log().sum(-1)[index] + 0.5 * self.locs.shape[-1] * math.log(2 * math.pi)
        return -0.5 * z.pow(2).sum(-1) - normalizer

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        weights = torch.log_softmax(self.logits, -1)
        log_joint = self.component_log_prob(value) + weights
        # the components that dominate the sum are scored again without the expanded square
        index = log_joint.detach().topk(min(EXACT_COMPONENTS, len(weights)), dim=-1).indices
        exact = self.exact_component_log_prob(value, index) + weights[index]
        log_p = torch.logsumexp(log_joint.scatter(-1, index, exact), -1)
        return log_p.expand(torch.broadcast_shapes(log_p.shape, self.batch_shape))

    def sample(self, sample_shape: torch.Size | tuple[int, ...] = ()) -> Tensor:
        shape = self._extended_shape(torch.Size(sample_shape))
        with torch.no_grad():
            index = torch.multinomial(torch.softmax(self.logits, -1), math.prod(shape[:-1]), replacement=True)
            noise = torch.randn(shape, dtype=self.locs.dtype, device=self.locs.device)
            return self.locs[index].reshape(shape) + self.scales[index].reshape(shape) * noise

    @property
    def mean(self) -> Tensor:
        weights = torch.softmax(self.logits, -1).unsqueeze(-1)
        return (weights * self.locs).sum(0).expand(self._extended_shape())

    @property
    def variance(self) -> Tensor:
        weights = torch.softmax(self.logits, -1).unsqueeze(-1)
        second = (weights * (self.scales.pow(2) + self.locs.pow(2))).sum(0)
        return (second - self.mean.pow(2)).expand(self._extended_shape())
