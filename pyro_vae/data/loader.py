"""Mini-batches from in-memory tensors, shuffled with a seeded generator."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from pyro_vae.data.prepare import Split

__all__ = ["iterate_batches", "num_batches"]


def num_batches(n: int, batch_size: int) -> int:
    """Number of batches covering ``n`` examples (the last may be smaller)."""
    return -(-n // batch_size)


def iterate_batches(
    split: Split,
    batch_size: int,
    generator: torch.Generator | None = None,
    dynamic_binarize: bool = False,
) -> Iterator[tuple[Tensor, Tensor | None]]:
    """Yield ``(x, labels)`` batches.

    Parameters
    ----------
    split
        The examples.
    batch_size
        Examples per batch; the last batch holds the remainder.
    generator
        Shuffles the order (and draws the binarization) when given; ``None``
        keeps the stored order.
    dynamic_binarize
        Replace each grey level ``p`` by a fresh ``Bernoulli(p)`` draw.
    """
    n = len(split)
    order = torch.randperm(n, generator=generator) if generator is not None else None
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size] if order is not None else slice(start, start + batch_size)
        x = split.x[index]
        if dynamic_binarize:
            x = torch.bernoulli(x, generator=generator)
        yield x, None if split.labels is None else split.labels[index]
