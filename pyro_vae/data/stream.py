"""Training examples streamed from a ``DataLoader`` or ``IterableDataset``, for data that do not fit in memory.

A :class:`StreamedRows` stands where a split's tensor of examples would stand, as
:class:`~pyro_vae.data.mapped.MappedRows` does for a memory-mapped file, but it can only be
read from start to end: every pass iterates the user's loader again (its ``num_workers``,
its order: pyro-vae does not shuffle a stream). Before training, one pass (:func:`survey`)
counts the examples, checks their shape and values, and keeps their labels (for counting
classes only: a stream has no rows to match them with). Training re-batches the stream to
``train.batch_size`` (:func:`pyro_vae.data.loader.rebatched`); validation and test examples come from separate objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pyro_vae._system import release_free_memory
from pyro_vae.data.arrays import check_finite
from pyro_vae.data.mapped import Transform
from pyro_vae.data.torch_data import concat_labels, stream_batches
from pyro_vae.errors import DataError

__all__ = ["StreamedRows", "survey"]


def _examples(x: Tensor) -> Tensor:
    """A batch of grey images ``(B, H, W)`` as ``(B, 1, H, W)``; other ranks as they are."""
    return x.unsqueeze(1) if x.dim() == 3 else x


@dataclass(frozen=True)
class StreamedRows:
    """The examples of a stream, read in order on every pass.

    Attributes
    ----------
    source
        The user's ``DataLoader`` or ``IterableDataset``.
    shape
        ``(N, *event_shape)``: ``N`` counted by :func:`survey` (at most ``limit``).
    limit
        Read no more than this many examples per pass (0: all).
    transforms
        Applied, in order, to every batch read (scaling, fixed binarization), given the rows' positions.
    """

    source: Any
    shape: torch.Size
    limit: int = 0
    transforms: tuple[Transform, ...] = ()
    what: str = "the training data"

    def __len__(self) -> int:
        return self.shape[0]

    def dim(self) -> int:
        return len(self.shape)

    def then(self, transform: Transform) -> StreamedRows:
        """These rows with ``transform`` applied after the current transforms."""
        return replace(self, transforms=(*self.transforms, transform))

    def take(self, index: Tensor) -> StreamedRows:
        """Refused: a stream has no rows to pick; held-out splits come from their own objects."""
        raise DataError(
            f"{self.what} is a stream, read in order: it cannot be split or sampled by rows; pass the "
            "validation and test examples as their own objects (val_data=, test_data=)"
        )

    def batches(self) -> Iterator[tuple[Tensor, Tensor | None]]:
        """One pass: ``(x, labels)`` as the source batches them, checked and transformed."""
        seen = 0
        for x, y in stream_batches(self.source, self.what):
            x, y = _examples(x)[: len(self) - seen], None if y is None else y[: len(self) - seen]
            if x.shape[1:] != self.shape[1:]:
                raise DataError(
                    f"{self.what} now gives examples of shape {tuple(x.shape[1:])}, but its first pass gave "
                    f"{tuple(self.shape[1:])}: a stream must give the same examples on every pass"
                )
            check_finite(x, self.what, seen)
            rows = np.arange(seen, seen + len(x))
            for transform in self.transforms:
                x = transform(x, rows)
            yield x, y
            seen += len(x)
            if seen >= len(self):
                return

    def chunks(self) -> Iterator[Tensor]:
        """Every example, a source batch at a time (freed memory goes back to the system between them)."""
        for x, _ in self.batches():
            yield x
            del x
            release_free_memory()

    def min(self) -> Tensor:
        return torch.stack([chunk.min() for chunk in self.chunks()]).min()

    def max(self) -> Tensor:
        return torch.stack([chunk.max() for chunk in self.chunks()]).max()


def survey(source: Any, what: str, limit: int = 0) -> tuple[StreamedRows, Tensor | None]:
    """One pass over ``source``: its examples as :class:`StreamedRows`, and its labels (``None`` if it has none).

    The first batch fixes the example shape; every value is checked to be finite.

    Raises
    ------
    DataError
        For a stream that gives nothing, batches of another form or shape, or non-finite values.
    """
    parts: list[tuple[Tensor, Tensor | None]] = []
    n, shape = 0, None
    for x, y in stream_batches(source, what):
        x = _examples(x)
        if limit:
            x, y = x[: limit - n], None if y is None else y[: limit - n]
        check_finite(x, what, n)
        shape, n = x.shape[1:], n + len(x)
        parts.append((torch.empty(len(x)), y))  # only the labels are kept, and how many rows they cover
        if limit and n >= limit:
            break
    if shape is None:
        raise DataError(f"{what} ({type(source).__name__}) gave no examples")
    return StreamedRows(source, torch.Size((n, *shape)), limit, what=what), concat_labels(parts)
