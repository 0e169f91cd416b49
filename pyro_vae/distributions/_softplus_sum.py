"""``sum softplus(l)`` over trailing dimensions, with one logarithm per group of values when no gradient is needed.

``softplus(l) = max(l, 0) + log(1 + exp(-|l|))``, and a sum of logarithms is
the logarithm of a product: each factor ``1 + exp(-|l|)`` lies in ``(1, 2]``,
so a product of up to ``GROUP`` of them stays finite, and one logarithm serves
a whole group. Scoring decoded MNIST images this way takes less than half the
time of ``softplus(l).sum()`` (1.2-1.5 against 3.1 ms for 13 particles x 100
test images of a trained decoder, 2 threads of the 2-core development machine,
best of 7 x 40 calls in each of three rounds). Rounding each factor costs at
most a float's relative precision per value, the same order as the rounding of
the element-wise sum it replaces.

The grouped form is used only without gradients (evaluation): its derivative
at ``l = 0`` would be that of ``|l|``, not softplus's ``1/2``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn.functional import softplus

__all__ = ["softplus_sum"]

#: most factors in ``(1, 2]`` multiplied before one logarithm (``2**64`` is far below float32's maximum)
GROUP = 64


def softplus_sum(logits: Tensor, dims: int) -> Tensor:
    """``softplus(logits)`` summed over its last ``dims`` dimensions (``dims >= 1``)."""
    flat = logits.flatten(-dims)
    if torch.is_grad_enabled() and flat.requires_grad:
        return softplus(flat).sum(-1)
    return flat.clamp_min(0).sum(-1) + _log1p_exp_neg_abs_sum(flat)


def _log1p_exp_neg_abs_sum(flat: Tensor) -> Tensor:
    """``sum_d log(1 + exp(-|l_d|))`` over the last dimension, one logarithm per ``group`` values."""
    info = torch.finfo(flat.dtype)
    group = min(GROUP, int(math.log2(info.max)))  # fewer factors for half precision
    # exp(-|l|) below the smallest normal float only slows exp down: 1 + it rounds to 1 all the same
    factors = flat.abs().neg_().clamp_min_(math.ceil(math.log(info.tiny))).exp_().add_(1)
    width = flat.shape[-1]
    whole = width - width % group
    total = factors[..., whole:].prod(-1).log_()  # the last width % group values (none: log 1 = 0)
    if whole:
        total = total + factors[..., :whole].unflatten(-1, (-1, group)).prod(-1).log_().sum(-1)
    return total
