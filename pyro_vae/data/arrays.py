"""Checking and shaping arrays of examples, whatever source they came from."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pyro_vae.data.mapped import CHECK_ROWS, MappedRows
from pyro_vae.errors import DataError, InputNotice

__all__ = ["MISSING", "as_examples", "as_labels", "as_mapped_examples", "auto_scale_for", "check_finite"]

_SHAPES = "(N, D) vectors, (N, H, W) grey images or (N, C, H, W) images"
#: channel counts of images: grey, RGB, RGBA
CHANNELS = (1, 3, 4)


def auto_scale_for(values: Any) -> float:
    """255 for 8-bit unsigned integer data (pixels), else 1."""
    return 255.0 if getattr(values, "dtype", None) in (np.uint8, torch.uint8) else 1.0


def _numeric(values: Any, what: str, fix: str) -> Tensor:
    """``values`` as a float32 tensor; a :class:`DataError` for anything but real numbers."""
    if isinstance(values, Tensor):
        if values.dtype.is_complex:
            raise DataError(f"{what} has dtype {values.dtype}, expected real numbers; {fix}")
        return values.detach().to(torch.float32)
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as err:
        raise DataError(f"{what} is not a numeric array ({err}); {fix}") from None
    if array.dtype.kind not in "biuf":
        raise DataError(f"{what} has dtype {array.dtype}, expected real numbers; {fix}")
    return torch.from_numpy(np.array(array, dtype=np.float32))


def as_examples(values: Any, what: str = "data") -> Tensor:
    """A float32 tensor of shape ``(N, D)`` or ``(N, C, H, W)`` from an array-like.

    ``(N, H, W)`` becomes ``(N, 1, H, W)``, and channels-last images ``(N, H, W, C)``
    (``C`` of 1, 3 or 4 after two axes longer than 4) become ``(N, C, H, W)``,
    with a note. Rejects other ranks, empty data, and NaN or infinite values with a
    message saying where they are.
    """
    x = _numeric(values, what, f"pass a NumPy array or torch tensor of {_SHAPES}")
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if _channels_last(x.shape):
        warnings.warn(
            InputNotice(
                f"{what} of shape {tuple(x.shape)} read as channels-last images (N, H, W, C): "
                f"examples are {x.shape[3]}x{x.shape[1]}x{x.shape[2]}"
            ),
            stacklevel=2,
        )
        x = x.permute(0, 3, 1, 2).contiguous()
    if x.dim() not in (2, 4):
        raise DataError(f"{what} has shape {tuple(x.shape)}; expected {_SHAPES}")
    if x.shape[0] == 0:
        raise DataError(f"{what} is empty (shape {tuple(x.shape)}); it needs at least one example")
    if any(s == 0 for s in x.shape[1:]):
        raise DataError(f"{what} has shape {tuple(x.shape)} with a zero-sized dimension; each example needs values")
    check_finite(x, what)
    return x


def _channels_last(shape: tuple[int, ...]) -> bool:
    """Whether 4-D ``shape`` looks like channels-last images ``(N, H, W, C)``.

    That is 1, 3 or 4 channels last and both axes before them longer than any
    channel count (so ``(N, 2, 3, 3)`` stays two channels of 3x3).
    """
    return len(shape) == 4 and shape[3] in CHANNELS and min(shape[1], shape[2]) > max(CHANNELS)


def as_mapped_examples(array: np.ndarray, what: str = "data") -> MappedRows:
    """Rows of a memory-mapped array, checked as :func:`as_examples` checks data, a chunk at a time."""
    if array.dtype.kind not in "biuf":
        raise DataError(f"{what} has dtype {array.dtype}, expected real numbers; save the examples as numbers")
    if array.ndim not in (2, 3, 4) or array.shape[0] == 0 or 0 in array.shape[1:]:
        raise DataError(f"{what} has shape {array.shape}; expected non-empty {_SHAPES}")
    if _channels_last(array.shape):
        raise DataError(
            f"{what} of shape {array.shape} looks like channels-last images (N, H, W, C), which a memory-mapped "
            "file cannot be reordered into: save it as (N, C, H, W), or set data.mmap = false to load and reorder it"
        )
    rows = MappedRows.of(array)
    for start, chunk in zip(range(0, len(rows), CHECK_ROWS), rows.split(CHECK_ROWS), strict=True):
        check_finite(chunk, what, start)
    return rows


def check_finite(x: Tensor, what: str, first_row: int = 0) -> None:
    """A :class:`DataError` naming the first example (counting from ``first_row``) with a NaN or infinite value."""
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        rows = bad.flatten(1).any(1).nonzero().flatten()
        kind = "NaN" if bool(torch.isnan(x).any()) else "infinite"
        raise DataError(
            f"{what} contains {int(bad.sum())} {kind} or non-finite value(s) in {len(rows)} example(s) "
            f"(the first is example {first_row + int(rows[0])}, counting from 0): remove those examples or impute "
            "the values"
        )


#: the label value that marks a missing label
MISSING = -1


def as_labels(values: Any, n: int, what: str = "labels") -> Tensor:
    """An int64 tensor of class labels: ``(n,)`` for one factor or ``(n, K)`` for ``K`` factors.

    Labels are class indices ``0, 1, 2, ...``; ``-1`` marks a missing label.
    """
    y = _numeric(values, what, "labels must be integer class indices 0, 1, 2, ... (-1: missing)")
    if y.dim() not in (1, 2) or y.shape[0] != n:
        raise DataError(
            f"{what} has shape {tuple(y.shape)}; expected one label per example, shape ({n},), "
            f"or one per example and factor, shape ({n}, K)"
        )
    if not bool(torch.isfinite(y).all()) or bool((y != torch.round(y)).any()):
        raise DataError(f"{what} must be integer class labels; found non-integer values")
    y = y.to(torch.int64)
    if bool((y < MISSING).any()):
        raise DataError(f"{what} must be class indices 0, 1, 2, ... or -1 for missing; found {int(y.min())}")
    return y
