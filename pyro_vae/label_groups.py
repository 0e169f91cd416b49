"""Rows of a batch grouped by which label factors are known, and conditioning on labels.

The semi-supervised model observes a label where it is known and infers it
where it is missing, per factor and per example. The rows of a batch that
share the same pattern of known factors form a group with its own plate and
sites (``digit@L`` for rows whose ``digit`` is known, ``digit@U`` where it is
not), so every label site is wholly observed or wholly latent and the guide
enumerates exactly the missing ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.functional import one_hot

__all__ = ["LabelGroup", "concat_broadcast", "label_groups", "one_hot_float"]


@dataclass(frozen=True)
class LabelGroup:
    """Rows ``index`` of a batch whose factors are known where ``known`` is True."""

    index: Tensor
    known: tuple[bool, ...]

    @property
    def tag(self) -> str:
        """Site-name suffix: ``@`` then ``L`` (known) or ``U`` (unknown) per factor."""
        return "@" + "".join("L" if k else "U" for k in self.known)

    def labels(self, y: Tensor | None, factor: int) -> Tensor | None:
        """The known labels of ``factor`` for these rows (``None`` if that factor is unknown here)."""
        return y.reshape(y.shape[0], -1)[self.index, factor] if self.known[factor] else None


def label_groups(y: Tensor | None, batch: int, factors: int) -> list[LabelGroup]:
    """Group the rows of a batch of ``batch`` examples by their pattern of known factors.

    Parameters
    ----------
    y
        Labels ``(B,)`` or ``(B, K)``, ``-1`` where missing; ``None``: all missing.
    batch
        ``B``.
    factors
        ``K``.
    """
    if y is None:
        return [LabelGroup(torch.arange(batch), (False,) * factors)]
    known = y.reshape(batch, -1) >= 0
    if known.shape[1] != factors:
        raise ValueError(f"labels have {known.shape[1]} factors, the model has {factors}")
    patterns = torch.unique(known, dim=0)
    return [
        LabelGroup((known == pattern).all(1).nonzero().flatten(), tuple(bool(k) for k in pattern))
        for pattern in patterns.flip(0)
    ]


def one_hot_float(y: Tensor, classes: int, like: Tensor) -> Tensor:
    """One-hot codes of ``y`` (any shape, enumerated dims included) in ``like``'s dtype."""
    return one_hot(y.long(), classes).to(like.dtype)


def concat_broadcast(tensors: list[Tensor]) -> Tensor:
    """Concatenate along the last dimension after broadcasting all leading dimensions."""
    if len(tensors) == 1:
        return tensors[0]
    batch = torch.broadcast_shapes(*(t.shape[:-1] for t in tensors))
    return torch.cat([t.expand(*batch, t.shape[-1]) for t in tensors], dim=-1)
