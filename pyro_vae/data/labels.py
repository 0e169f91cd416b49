"""Keeping a given number of training labels, balanced over classes, for semi-supervised learning."""

from __future__ import annotations

import torch
from torch import Tensor

from pyro_vae.data.arrays import MISSING
from pyro_vae.errors import DataError

__all__ = ["keep_labels"]


def _quota(n: int, classes: list[int]) -> dict[int, int]:
    """``n`` spread over ``classes`` as evenly as possible (the first classes take the remainder)."""
    base, extra = divmod(n, len(classes))
    return {c: base + (i < extra) for i, c in enumerate(classes)}


def keep_labels(labels: Tensor | None, n: int, generator: torch.Generator) -> Tensor:
    """Keep ``n`` labelled rows, balanced over the classes of the first factor; mark the rest missing.

    Parameters
    ----------
    labels
        ``(N,)`` or ``(N, K)`` labels of the training split.
    n
        How many rows keep their labels (all factors of a kept row are kept).
    generator
        Picks the rows (seeded by ``data.split_seed``).
    """
    if labels is None:
        raise DataError(
            "data.labels keeps a number of labelled examples, but this data has no labels: "
            "give labels (an npz label_key, a csv label_column, or labels= from Python)"
        )
    first = labels if labels.dim() == 1 else labels[:, 0]
    classes = sorted(int(c) for c in first.unique() if c != MISSING)
    if n > 0 and n < len(classes):
        raise DataError(f"data.labels = {n} cannot cover the {len(classes)} classes: keep at least {len(classes)}")
    keep = torch.zeros(len(first), dtype=torch.bool)
    for c, quota in _quota(n, classes).items() if n else ():
        rows = (first == c).nonzero().flatten()
        if len(rows) < quota:
            raise DataError(
                f"data.labels = {n} needs {quota} training examples of class {c}, "
                f"but the training split has {len(rows)}: lower data.labels"
            )
        keep[rows[torch.randperm(len(rows), generator=generator)[:quota]]] = True
    shape = (-1,) + (1,) * (labels.dim() - 1)
    return torch.where(keep.reshape(shape), labels, torch.full_like(labels, MISSING))
