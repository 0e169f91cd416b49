"""Mini-batches from in-memory tensors, shuffled with a seeded generator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from pyro_vae.data.prepare import Split

__all__ = [
    "Shard",
    "TrainingBatches",
    "batch_at",
    "bernoulli_draw",
    "draw_rows",
    "iterate_batches",
    "num_batches",
    "random_shift",
    "shard_batches",
    "sharded_count",
]


@dataclass(frozen=True)
class Shard:
    """One process's part of every batch when ``world`` processes train together (DistributedDataParallel).

    Every process draws the same global order of examples from the shared generator
    (seeded alike in every process) and cuts global batches of ``world * batch_size``
    rows; process ``rank`` keeps part ``rank`` of each (:func:`torch.tensor_split`:
    ``batch_size`` rows of a full batch, the remainder of the last one shared as evenly
    as it goes). Its noise (binarization, shifts, resampled features) comes from its own
    ``noise`` generator, so the processes draw independent noise.

    Attributes
    ----------
    rank, world
        This process's index and the number of processes.
    noise
        This process's generator for the per-row noise.
    """

    rank: int
    world: int
    noise: torch.Generator


def shard_batches(rows: Tensor, global_size: int, shard: Shard | None) -> Iterator[Tensor]:
    """Consecutive batches of ``rows``: this process's part of each global batch of ``global_size`` rows.

    Without a shard, the batches themselves. A last global batch with fewer rows than
    processes is dropped by every process alike (some process would get none).
    """
    for start in range(0, len(rows), global_size):
        batch = rows[start : start + global_size]
        if shard is None:
            yield batch
        elif len(batch) >= shard.world:
            yield torch.tensor_split(batch, shard.world)[shard.rank]


def sharded_count(n: int, global_size: int, shard: Shard | None) -> int:
    """How many batches :func:`shard_batches` yields from ``n`` rows (the same in every process)."""
    full, rest = divmod(n, global_size)
    return full + int(rest > 0 and (shard is None or rest >= shard.world))


def num_batches(n: int, batch_size: int) -> int:
    """Number of batches covering ``n`` examples (the last may be smaller)."""
    return -(-n // batch_size)


def random_shift(x: Tensor, pixels: int, generator: torch.Generator | None) -> Tensor:
    """Images ``(B, C, H, W)`` each translated by up to ``pixels`` in both directions (zero filled)."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pixels, pixels, pixels, pixels))
    top = torch.randint(0, 2 * pixels + 1, (b,), generator=generator)
    left = torch.randint(0, 2 * pixels + 1, (b,), generator=generator)
    rows = (top[:, None] + torch.arange(h))[:, None, :, None]
    cols = (left[:, None] + torch.arange(w))[:, None, None, :]
    return padded[torch.arange(b)[:, None, None, None], torch.arange(x.shape[1])[None, :, None, None], rows, cols]


def bernoulli_draw(p: Tensor, generator: torch.Generator | None) -> Tensor:
    """One ``Bernoulli(p)`` draw per value, as ``U < p``, ``U ~ Uniform(0, 1)`` (faster than ``torch.bernoulli``)."""
    return (torch.rand(p.shape, generator=generator) < p).to(p.dtype)


def draw_rows(
    split: Split, index: Tensor | slice, generator: torch.Generator | None, binarize: bool, shift: int = 0
) -> Tensor:
    """Examples ``index``, resampled with the split's noise, shifted and/or binarized afresh."""
    x = split.x[index]
    if split.noise is not None:
        x = x + split.noise[index] * torch.randn(x.shape, generator=generator)
    if shift:
        x = random_shift(x, shift, generator)
    return bernoulli_draw(x, generator) if binarize else x


def iterate_batches(
    split: Split,
    batch_size: int,
    generator: torch.Generator | None = None,
    dynamic_binarize: bool = False,
    shift: int = 0,
    shard: Shard | None = None,
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

    shift
        Translate each image by up to this many pixels (augmentation).
    shard
        This process's part of every global batch of ``shard.world * batch_size`` rows (see :class:`Shard`).

    A split with ``noise`` is resampled as ``x + noise * eps`` in every batch.
    """
    n = len(split)
    if shard is not None:
        order = torch.randperm(n, generator=generator)
        for index in shard_batches(order, batch_size * shard.world, shard):
            yield _batch(split, index, shard.noise, dynamic_binarize, shift)
        return
    order = torch.randperm(n, generator=generator) if generator is not None else None
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size] if order is not None else slice(start, start + batch_size)
        yield _batch(split, index, generator, dynamic_binarize, shift)


def batch_at(split: Split, start: int, batch_size: int) -> tuple[Tensor, Tensor | None]:
    """``(x, labels)`` of the examples ``start`` to ``start + batch_size`` in stored order (noise drawn afresh)."""
    return _batch(split, slice(start, start + batch_size), None, False)


def _batch(
    split: Split, index: Tensor | slice, generator: torch.Generator | None, binarize: bool, shift: int = 0
) -> tuple[Tensor, Tensor | None]:
    """``(x, labels)`` of examples ``index``, ``x`` drawn by :func:`draw_rows`."""
    labels = None if split.labels is None else split.labels[index]
    return draw_rows(split, index, generator, binarize, shift), labels


def _cycle(rows: Tensor, generator: torch.Generator | None) -> Iterator[Tensor]:
    """Endless reshuffled passes over ``rows``, one row at a time."""
    while True:
        order = torch.randperm(len(rows), generator=generator) if generator is not None else torch.arange(len(rows))
        yield from rows[order]


class TrainingBatches:
    """An epoch of shuffled training batches, optionally with a fixed number of labelled rows in each.

    With ``labelled_per_batch > 0`` and both labelled rows (at least one known
    factor) and unlabelled rows present, one epoch is one pass over the
    unlabelled rows, and every batch adds ``labelled_per_batch`` labelled rows,
    cycled and reshuffled on every pass, so a handful of labels is seen in
    every batch. Otherwise it is one pass over all rows (:func:`iterate_batches`).

    Parameters
    ----------
    split
        The training examples and labels (``-1`` = missing).
    batch_size
        Rows per batch (labelled ones included).
    labelled_per_batch
        Labelled rows per batch; 0 mixes rows as they come.
    generator
        Shuffles and draws the binarization.
    dynamic_binarize
        Resample binary pixels from grey levels.
    shift
        Translate each image by up to this many pixels (augmentation).
    shard
        This process's part of every batch when several train together (see :class:`Shard`):
        ``batch_size`` and ``labelled_per_batch`` are per process, and each process's batch
        holds its own ``labelled_per_batch`` labelled rows.
    """

    def __init__(
        self,
        split: Split,
        batch_size: int,
        labelled_per_batch: int = 0,
        generator: torch.Generator | None = None,
        dynamic_binarize: bool = False,
        shift: int = 0,
        shard: Shard | None = None,
    ) -> None:
        self.split, self.batch_size, self.generator, self.dynamic = split, batch_size, generator, dynamic_binarize
        self.shift, self.shard = shift, shard
        self.world = 1 if shard is None else shard.world
        labelled = None if split.labels is None else (split.labels.reshape(len(split), -1) >= 0).any(1)
        mixed = labelled is not None and labelled_per_batch > 0 and bool(labelled.any()) and not bool(labelled.all())
        self.labelled_per_batch = labelled_per_batch if mixed else 0
        self.labelled_rows = labelled.nonzero().flatten() if mixed else None
        self.unlabelled = split.take((~labelled).nonzero().flatten()) if mixed else split

    def __len__(self) -> int:
        size = (self.batch_size - self.labelled_per_batch) * self.world
        return sharded_count(len(self.unlabelled), size, self.shard)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor | None]]:
        size = self.batch_size - self.labelled_per_batch
        batches = iterate_batches(self.unlabelled, size, self.generator, self.dynamic, self.shift, self.shard)
        if self.labelled_rows is None:
            yield from batches
            return
        supply = _cycle(self.labelled_rows, self.generator)
        noise = self.generator if self.shard is None else self.shard.noise
        for x_u, y_u in batches:
            # every process takes the same labelled rows from the shared cycle and keeps its own part
            drawn = torch.stack([next(supply) for _ in range(self.labelled_per_batch * self.world)])
            rows = drawn if self.shard is None else drawn.view(self.world, -1)[self.shard.rank]
            x_l = draw_rows(self.split, rows, noise, self.dynamic, self.shift)
            yield torch.cat([x_l, x_u]), torch.cat([self.split.labels[rows], y_u])
