"""Mini-batches from in-memory tensors, shuffled with a seeded generator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from pyro_vae._device import to_device
from pyro_vae.data.mapped import MappedRows
from pyro_vae.data.prepare import Split
from pyro_vae.data.stream import StreamedRows
from pyro_vae.data.torch_data import concat_labels
from pyro_vae.errors import DataError

__all__ = [
    "Shard",
    "TrainingBatches",
    "batch_at",
    "bernoulli_draw",
    "draw_rows",
    "iterate_batches",
    "num_batches",
    "random_shift",
    "rebatched",
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
    as it goes). Every batch but an epoch's last therefore holds as many rows in every
    process, which lets a process count a step's examples over all processes without
    asking them. Its noise (binarization, shifts, resampled features) comes from its own
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
    """Images ``(B, C, H, W)`` each translated by up to ``pixels`` in both directions (zero filled).

    Drawn on ``x``'s device, with ``generator`` (on that device) or its default generator.
    """
    b, c, h, w = x.shape
    device = x.device
    padded = torch.nn.functional.pad(x, (pixels, pixels, pixels, pixels))
    top = torch.randint(0, 2 * pixels + 1, (b,), generator=generator, device=device)
    left = torch.randint(0, 2 * pixels + 1, (b,), generator=generator, device=device)
    rows = (top[:, None] + torch.arange(h, device=device))[:, None, :, None]
    cols = (left[:, None] + torch.arange(w, device=device))[:, None, None, :]
    batch, channels = torch.arange(b, device=device), torch.arange(c, device=device)
    return padded[batch[:, None, None, None], channels[None, :, None, None], rows, cols]


def bernoulli_draw(p: Tensor, generator: torch.Generator | None) -> Tensor:
    """One ``Bernoulli(p)`` draw per value, as ``U < p``, ``U ~ Uniform(0, 1)`` (faster than ``torch.bernoulli``).

    Drawn on ``p``'s device, with ``generator`` (on that device) or its default generator.
    """
    return (torch.rand(p.shape, generator=generator, device=p.device) < p).to(p.dtype)


def _rows(values: Tensor | MappedRows, index: Tensor | slice, device: torch.device) -> Tensor:
    """``values[index]`` read where ``values`` are kept and delivered to ``device``."""
    if isinstance(index, Tensor):
        index = index.to(values.device if isinstance(values, Tensor) else "cpu")
    return to_device(values[index], device)


def draw_rows(
    split: Split, index: Tensor | slice, generator: torch.Generator | None, binarize: bool, shift: int = 0
) -> Tensor:
    """Examples ``index``, resampled with the split's noise, shifted and/or binarized afresh.

    The batch is computed on the split's :attr:`~Split.batch_device` (``generator`` must be on it):
    rows kept on the host are copied there first, and the noise, shifts and binarization drawn there.
    """
    device = split.batch_device
    x = _rows(split.x, index, device)
    if split.noise is not None:
        x = x + _rows(split.noise, index, device) * torch.randn(x.shape, generator=generator, device=device)
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
    order = None
    if generator is not None:  # one copy per epoch when the examples are kept away from the generator's device
        order = torch.randperm(n, generator=generator, device=generator.device).to(split.storage)
    if shard is not None:  # every process draws the same order and keeps its part of each global batch
        for index in shard_batches(order, batch_size * shard.world, shard):
            yield _batch(split, index, shard.noise, dynamic_binarize, shift)
        return
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size] if order is not None else slice(start, start + batch_size)
        yield _batch(split, index, generator, dynamic_binarize, shift)


def batch_at(split: Split, start: int, batch_size: int) -> tuple[Tensor, Tensor | None]:
    """``(x, labels)`` of the examples ``start`` to ``start + batch_size`` in stored order (noise drawn afresh).

    Both on the split's :attr:`~Split.batch_device`.
    """
    return _batch(split, slice(start, start + batch_size), None, False)


def _batch(
    split: Split, index: Tensor | slice, generator: torch.Generator | None, binarize: bool, shift: int = 0
) -> tuple[Tensor, Tensor | None]:
    """``(x, labels)`` of examples ``index``, ``x`` drawn by :func:`draw_rows`."""
    labels = None if split.labels is None else _rows(split.labels, index, split.batch_device)
    return draw_rows(split, index, generator, binarize, shift), labels


def rebatched(
    rows: StreamedRows,
    batch_size: int,
    generator: torch.Generator | None,
    binarize: bool,
    shift: int = 0,
    device: torch.device | None = None,
) -> Iterator[tuple[Tensor, Tensor | None]]:
    """One pass over ``rows`` in batches of ``batch_size`` (the last holds the rest), in the stream's order.

    ``binarize`` resamples each grey level as a Bernoulli draw and ``shift`` translates images,
    both drawn from ``generator``, as for in-memory training data; batches are moved to ``device`` first.
    """

    def finish(x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor | None]:
        if device is not None:
            x, y = to_device(x, device), (None if y is None else to_device(y, device))
        x = random_shift(x, shift, generator) if shift else x
        return (bernoulli_draw(x, generator) if binarize else x), y

    pending: list[tuple[Tensor, Tensor | None]] = []
    held = 0
    for x, y in rows.batches():
        pending.append((x, y))
        held += len(x)
        while held >= batch_size:
            batch, pending = _take(pending, batch_size)
            held -= batch_size
            yield finish(*batch)
    if held:
        yield finish(*_take(pending, held)[0])


def _take(
    pending: list[tuple[Tensor, Tensor | None]], size: int
) -> tuple[tuple[Tensor, Tensor | None], list[tuple[Tensor, Tensor | None]]]:
    """The first ``size`` examples of the pending pieces, and the pieces left."""
    x = torch.cat([x for x, _ in pending])
    y = concat_labels(pending)
    rest = [(x[size:], None if y is None else y[size:])] if len(x) > size else []
    return (x[:size], None if y is None else y[:size]), rest


def _cycle(rows: Tensor, generator: torch.Generator | None) -> Iterator[Tensor]:
    """Endless reshuffled passes over ``rows``, one row at a time."""
    while True:
        if generator is None:
            order = torch.arange(len(rows), device=rows.device)
        else:
            order = torch.randperm(len(rows), generator=generator, device=generator.device).to(rows.device)
        yield from rows[order]


class TrainingBatches:
    """An epoch of shuffled training batches, optionally with a fixed number of labelled rows in each.

    With ``labelled_per_batch > 0`` and both labelled rows (at least one known
    factor) and unlabelled rows present, one epoch is one pass over the
    unlabelled rows, and every batch adds ``labelled_per_batch`` labelled rows,
    cycled and reshuffled on every pass, so a handful of labels is seen in
    every batch. Otherwise it is one pass over all rows (:func:`iterate_batches`). A streamed split
    (:class:`StreamedRows`) is one pass in the stream's own order, re-batched to ``batch_size``, its
    labelled and unlabelled rows mixed as they come (:func:`rebatched`).

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
        self.stream = split.x if isinstance(split.x, StreamedRows) else None
        if self.stream is not None:
            if shard is not None:
                raise DataError(
                    "a streamed DataLoader cannot be shared out among processes (DDP): shard it yourself in "
                    "its IterableDataset and train on one process, or pass a map-style Dataset"
                )
            labelled_per_batch = 0
        labelled = None if split.labels is None else (split.labels.reshape(len(split), -1) >= 0).any(1)
        mixed = labelled is not None and labelled_per_batch > 0 and bool(labelled.any()) and not bool(labelled.all())
        self.labelled_per_batch = labelled_per_batch if mixed else 0
        self.labelled_rows = labelled.nonzero().flatten() if mixed else None
        self.unlabelled = split.take((~labelled).nonzero().flatten()) if mixed else split

    def __len__(self) -> int:
        size = (self.batch_size - self.labelled_per_batch) * self.world
        return sharded_count(len(self.unlabelled), size, self.shard)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor | None]]:
        if self.stream is not None:
            device = self.split.batch_device
            yield from rebatched(self.stream, self.batch_size, self.generator, self.dynamic, self.shift, device)
            return
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
            yield torch.cat([x_l, x_u]), torch.cat([_rows(self.split.labels, rows, x_l.device), y_u])
