"""Keeping a given number of training labels, balanced over classes, for semi-supervised learning."""

from __future__ import annotations

import torch
from torch import Tensor

from pyro_vae.data.arrays import MISSING
from pyro_vae.errors import DataError

__all__ = ["check_labelled", "keep_labels"]


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


def check_labelled(labels: Tensor | None, classes: tuple[int, ...], kind: str) -> None:
    """Refuse training labels that leave some class of a label factor without one labelled example.

    A semi-supervised model learns ``q(y | x)`` from its labelled rows: with none (``data.labels = 0``, or a
    source whose labels are all missing) it would train and report chance accuracy without a word.

    Parameters
    ----------
    labels
        ``(N,)`` or ``(N, K)`` training labels, ``-1`` where missing (``None``: left to the model's own check).
    classes
        Classes per factor (largest label + 1 over every split).
    kind
        The model kind, for the message.
    """
    if labels is None:
        return
    columns = labels.reshape(len(labels), -1)
    for k, count in enumerate(classes):
        known = columns[:, k][columns[:, k] != MISSING]
        if len(known) == 0:
            raise DataError(
                f"model kind {kind!r} learns from labelled examples, but no training example keeps a label"
                f"{f' of factor {k}' if len(classes) > 1 else ''} (data.labels = 0?): keep at least one per "
                "class (e.g. data.labels = 100) or use model.kind = 'vae'"
            )
        unseen = sorted(set(range(count)) - {int(c) for c in known.unique()})
        if unseen:
            raise DataError(
                f"model kind {kind!r} needs a labelled training example of every class, but class(es) "
                f"{', '.join(map(str, unseen))}{f' of factor {k}' if len(classes) > 1 else ''} have none: "
                "keep more labels (data.labels) or relabel the classes 0, 1, 2, ... without gaps"
            )
