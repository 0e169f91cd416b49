"""Examples left on disk in a memory-mapped array and read a batch at a time.

A :class:`MappedRows` stands where a split's float32 tensor of examples would
stand: indexing it with a batch of rows reads just those rows from the file
and returns them as a tensor (scaled and binarized as the data configuration
says), so memory use does not grow with the dataset. Selecting rows (train,
validation and test splits, ``data.limit``) only composes row numbers; checks
over all examples run in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from pyro_vae._system import release_free_memory

__all__ = [
    "CHECK_ROWS",
    "MappedRows",
    "RowBernoulli",
    "RowScale",
    "RowThreshold",
    "chunks",
    "scaled",
    "take_rows",
    "value_bounds",
]

#: rows per chunk when a check or a statistic passes over every example
CHECK_ROWS = 4096


@dataclass(frozen=True)
class RowScale:
    """Divide the values by ``scale``."""

    scale: float

    def __call__(self, x: Tensor, rows: np.ndarray) -> Tensor:
        return x / self.scale


@dataclass(frozen=True)
class RowThreshold:
    """Binarize at 0.5 (``data.binarize = "fixed"``)."""

    def __call__(self, x: Tensor, rows: np.ndarray) -> Tensor:
        return (x > 0.5).to(x.dtype)


@dataclass(frozen=True)
class RowBernoulli:
    """One Bernoulli draw per value, seeded by the row number, so a row reads the same every time."""

    seed: int

    def __call__(self, x: Tensor, rows: np.ndarray) -> Tensor:
        out = torch.empty_like(x)
        gen = torch.Generator()
        for i, row in enumerate(rows.tolist()):
            gen.manual_seed((self.seed * 1_000_003 + row) % 2**63)
            out[i] = torch.rand(x[i].shape, generator=gen) < x[i]
        return out


Transform = RowScale | RowThreshold | RowBernoulli


@dataclass(frozen=True)
class MappedRows:
    """Rows ``rows`` of a memory-mapped ``(N, ...)`` array, read on demand as float32 tensors.

    Attributes
    ----------
    array
        The mapped array (``np.load(path, mmap_mode="r")``); ``(N, H, W)`` reads as ``(N, 1, H, W)``.
    rows
        Which rows of ``array`` this holds, in order.
    transforms
        Applied, in order, to every batch read.
    """

    array: np.ndarray
    rows: np.ndarray
    transforms: tuple[Transform, ...] = ()

    @classmethod
    def of(cls, array: np.ndarray) -> MappedRows:
        """All rows of ``array``."""
        return cls(array, np.arange(len(array)))

    @property
    def shape(self) -> torch.Size:
        inner = tuple(self.array.shape[1:])
        return torch.Size((len(self.rows), *((1, *inner) if len(inner) == 2 else inner)))

    def __len__(self) -> int:
        return len(self.rows)

    def dim(self) -> int:
        return len(self.shape)

    def __getitem__(self, index: Tensor | slice | Sequence[int]) -> Tensor:
        """The examples at ``index`` (a slice, or row positions), read from the file."""
        rows = self.rows[index] if isinstance(index, slice) else self.rows[np.asarray(index, dtype=np.int64)]
        order = np.argsort(rows, kind="stable")  # read in file order, then restore the asked order
        values = np.empty((len(rows), *self.array.shape[1:]), dtype=np.float32)
        values[order] = self.array[rows[order]]
        x = torch.from_numpy(values).reshape(len(rows), *self.shape[1:])
        for transform in self.transforms:
            x = transform(x, rows)
        return x

    def take(self, index: Tensor) -> MappedRows:
        """The rows at positions ``index``, without reading them."""
        return replace(self, rows=self.rows[np.asarray(index, dtype=np.int64)])

    def then(self, transform: Transform) -> MappedRows:
        """These rows with ``transform`` applied after the current transforms."""
        return replace(self, transforms=(*self.transforms, transform))

    def split(self, size: int) -> Iterator[Tensor]:
        """Consecutive batches of ``size`` examples, read one at a time."""
        for start in range(0, len(self), size):
            yield self[start : start + size]

    def chunks(self) -> Iterator[Tensor]:
        """All rows, ``CHECK_ROWS`` at a time (see :func:`chunks`)."""
        for chunk in self.split(CHECK_ROWS):
            yield chunk
            del chunk
            release_free_memory()

    def min(self) -> Tensor:
        return torch.stack([chunk.min() for chunk in chunks(self)]).min()

    def max(self) -> Tensor:
        return torch.stack([chunk.max() for chunk in chunks(self)]).max()


def take_rows(x: Tensor | MappedRows, index: Tensor) -> Tensor | MappedRows:
    """``x[index]`` for a tensor; for mapped (or streamed) rows the selection only, nothing read."""
    return x[index] if isinstance(x, Tensor) else x.take(index)


def scaled(x: Tensor | MappedRows, scale: float) -> Tensor | MappedRows:
    """``x / scale``; for mapped (or streamed) rows applied as each batch is read."""
    return x / scale if isinstance(x, Tensor) else x.then(RowScale(scale))


def chunks(x: Tensor | MappedRows) -> Iterator[Tensor]:
    """All examples of ``x`` as tensors: a tensor whole, mapped rows ``CHECK_ROWS`` at a time.

    Streamed rows (:class:`~pyro_vae.data.stream.StreamedRows`) come as their source batches them.

    Between chunks of mapped rows, freed memory goes back to the system (see
    :func:`~pyro_vae._system.release_free_memory`): without it, a pass over a
    large file in shuffled row order could leave a gigabyte resident.
    """
    if isinstance(x, Tensor):
        yield x
    else:
        yield from x.chunks()


def value_bounds(x: Tensor | MappedRows) -> tuple[float, float]:
    """The smallest and largest value of ``x``, in one pass (one read of a mapped file)."""
    bounds = [torch.aminmax(chunk) for chunk in chunks(x)]
    return min(float(b.min) for b in bounds), max(float(b.max) for b in bounds)
