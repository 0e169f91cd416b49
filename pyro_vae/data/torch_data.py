"""PyTorch datasets as data: items and batches taken apart, map-style datasets read into memory.

An *item* (what ``dataset[i]`` or an ``IterableDataset`` yields) is one example: a tensor or
array (a PIL image too), an ``(x,)`` or ``(x, label)`` tuple, or a dict with key ``"x"`` and
optionally ``"label"``. A *batch* (what a ``DataLoader`` yields) has the same forms with a
leading batch axis (a list stands for a tuple: ``default_collate`` makes lists). A label is a
class index, a ``(K,)`` vector of indices for ``K`` factors, ``-1`` or ``None`` where missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset

from pyro_vae.data.arrays import MISSING, auto_scale_for
from pyro_vae.errors import DataError

__all__ = [
    "ITEM_FORMS",
    "batch_parts",
    "collate_items",
    "concat_labels",
    "describe",
    "is_stream",
    "is_torch_dataset",
    "item_parts",
    "read_examples",
    "stream_batches",
]

ITEM_FORMS = "a tensor or array, an (x, label) tuple, or a dict with keys 'x' and optionally 'label'"
_ITEM_SHAPES = "(D,) vectors, (H, W) grey images or (C, H, W) images (torchvision: transform=ToTensor())"


def is_stream(obj: object) -> bool:
    """Whether ``obj`` is read in order only: a ``DataLoader`` or an ``IterableDataset``."""
    return isinstance(obj, (DataLoader, IterableDataset))


def is_torch_dataset(obj: object) -> bool:
    """Whether ``obj`` is a map-style ``torch.utils.data.Dataset`` (indexed, with a length)."""
    return isinstance(obj, Dataset) and not isinstance(obj, IterableDataset)


def _split_parts(value: Any, where: str, tuples: tuple[type, ...]) -> tuple[Any, Any]:
    """``(x, label)`` of an item or batch in any of the accepted forms (``label`` ``None`` if absent)."""
    if isinstance(value, Mapping):
        if "x" not in value:
            raise DataError(f"{where} is a dict with keys {sorted(map(str, value))}; expected {ITEM_FORMS}")
        return value["x"], value.get("label")
    if isinstance(value, tuples):
        if len(value) not in (1, 2):
            raise DataError(f"{where} is a tuple of {len(value)} parts; expected {ITEM_FORMS}")
        return value[0], value[1] if len(value) == 2 else None
    return value, None


def _values(x: Any, where: str) -> Tensor:
    """``x`` (tensor, array, PIL image, nested lists) as a float32 tensor; a :class:`DataError` otherwise.

    A PIL image ``(H, W, C)`` becomes ``(C, H, W)``, as ``ToTensor`` would order it.
    """
    if isinstance(x, Tensor):
        return x.detach().to(torch.float32)
    if isinstance(x, Image.Image):
        array = np.asarray(x, dtype=np.float32)
        return torch.from_numpy(array.transpose(2, 0, 1).copy() if array.ndim == 3 else array)
    try:
        array = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise DataError(f"{where}: x is not numeric ({err}); expected {ITEM_FORMS}") from None
    if array.dtype.kind not in "biuf":
        raise DataError(f"{where}: x is {type(x).__name__} of dtype {array.dtype}; expected {ITEM_FORMS}")
    return torch.from_numpy(np.array(array, dtype=np.float32))


def _label(label: Any, where: str, rank: int = 1) -> Tensor | None:
    """A label as an int64 tensor of at most ``rank`` axes (``-1`` missing); ``None`` stays ``None``."""
    if label is None:
        return None
    y = label if isinstance(label, Tensor) else torch.as_tensor(np.asarray(label, dtype=np.float64))
    if y.dim() > rank or y.dtype.is_complex or not bool(torch.isfinite(y.double()).all()):
        raise DataError(f"{where}: label {label!r} is not a class index or a vector of them (-1 or None: missing)")
    if bool((y.double() != torch.round(y.double())).any()) or bool((y < MISSING).any()):
        raise DataError(f"{where}: labels must be class indices 0, 1, 2, ... (-1 or None: missing), got {label!r}")
    return y.to(torch.int64)


def item_parts(item: Any, where: str) -> tuple[Tensor, Tensor | None]:
    """``x`` (float32, ``(D,)``, ``(H, W)`` or ``(C, H, W)``) and label of one dataset item.

    Raises
    ------
    DataError
        For another form, a non-numeric ``x``, an ``x`` of another rank or a label that is not a class index.
    """
    x, label = _split_parts(item, where, (tuple,))
    x = _values(x, where)
    if x.dim() not in (1, 2, 3) or 0 in x.shape:
        raise DataError(f"{where} has x of shape {tuple(x.shape)}; expected {_ITEM_SHAPES}")
    return x, _label(label, where)


def batch_parts(batch: Any, where: str) -> tuple[Tensor, Tensor | None]:
    """``x`` (float32, ``(B, ...)``) and labels (``(B,)`` or ``(B, K)``, or ``None``) of one loader batch."""
    x, labels = _split_parts(batch, where, (tuple, list))
    x = _values(x, where)
    if x.dim() not in (2, 3, 4) or 0 in x.shape[1:]:
        raise DataError(f"{where} has x of shape {tuple(x.shape)}; expected a batch of {_ITEM_SHAPES}")
    y = None if labels is None else _label_batch(labels, len(x), where)
    return x, y


def _label_batch(labels: Any, n: int, where: str) -> Tensor:
    """Labels of a batch of ``n``: ``None`` entries (a list) become ``-1``."""
    if isinstance(labels, (list, tuple)):
        rows = [_label(value, where) for value in labels]
        known = next((r for r in rows if r is not None), None)
        filler = torch.full_like(known, MISSING) if known is not None else torch.tensor(MISSING)
        labels = torch.stack([filler if r is None else r for r in rows])
    y = _label(labels, where, rank=2)
    if y.dim() == 0 or len(y) != n:
        raise DataError(f"{where} has {n} examples but labels of shape {tuple(y.shape)}")
    return y


def collate_items(items: list[Any]) -> tuple[Tensor, Tensor | None]:
    """A batch from a list of items (any form; ``None`` labels become ``-1``), for a ``DataLoader``."""
    parts = [item_parts(item, "an item of the dataset") for item in items]
    return _stacked(parts, "a batch of the dataset's items")


def _same_shape(x: Tensor, first: Tensor, i: int, what: str) -> None:
    """Refuse item ``i`` unless its ``x`` has item 0's shape."""
    if x.shape != first.shape:
        raise DataError(
            f"item {i} of {what} has x of shape {tuple(x.shape)}, but item 0 has {tuple(first.shape)}: "
            "every example needs the same shape (resize or crop in the dataset's transform)"
        )


def _stacked(parts: list[tuple[Tensor, Tensor | None]], what: str) -> tuple[Tensor, Tensor | None]:
    """Items stacked: their shapes must agree; labels ``None`` when no item has one, else ``-1`` where missing."""
    for i, (x, _) in enumerate(parts):
        _same_shape(x, parts[0][0], i, what)
    labels = [y for _, y in parts]
    known = next((y for y in labels if y is not None), None)
    if known is None:
        return torch.stack([x for x, _ in parts]), None
    if any(y is not None and y.shape != known.shape for y in labels):
        raise DataError(f"the items of {what} have labels of different shapes: give every item one label per factor")
    filler = torch.full_like(known, MISSING)
    return torch.stack([x for x, _ in parts]), torch.stack([filler if y is None else y for y in labels])


def read_examples(obj: Any, what: str) -> tuple[Any, Tensor | None, float]:
    """Examples, labels and ``auto_scale`` from an array, tensor, map-style dataset, ``DataLoader`` or stream.

    Arrays and tensors pass through unlabelled; datasets are read item by item (the first item's
    shape fixes the rest), loaders and ``IterableDataset`` s batch by batch, all into memory.

    Raises
    ------
    DataError
        For an empty dataset, items of another form or shape (naming the item), or another type.
    """
    if isinstance(obj, (Tensor, np.ndarray)):
        return obj, None, auto_scale_for(obj)
    if is_stream(obj):
        return _read_stream(obj, what)
    if not is_torch_dataset(obj):
        raise DataError(
            f"{what} is a {type(obj).__name__}; expected a NumPy array or tensor, a torch Dataset, "
            "an IterableDataset or a DataLoader"
        )
    try:
        n = len(obj)
    except TypeError:
        raise DataError(f"{what} ({type(obj).__name__}) has no length: make it an IterableDataset") from None
    if n == 0:
        raise DataError(f"{what} ({type(obj).__name__}) is empty; it needs at least one example")
    parts = [item_parts(obj[0], f"item 0 of {what}")]
    for i in range(1, n):
        parts.append(item_parts(obj[i], f"item {i} of {what}"))
        _same_shape(parts[-1][0], parts[0][0], i, what)  # refused at the item, before reading the rest
    x, y = _stacked(parts, what)
    return x, y, 255.0 if _is_8bit(obj[0]) else 1.0


def _is_8bit(item: Any) -> bool:
    """Whether an item's values are 8-bit (uint8 arrays or PIL images): ``data.scale = "auto"`` divides by 255."""
    x = _split_parts(item, "item", (tuple,))[0]
    if isinstance(x, (Tensor, np.ndarray)):
        return auto_scale_for(x) == 255.0
    return isinstance(x, Image.Image) and np.asarray(x).dtype == np.uint8


def _read_stream(obj: Iterable[Any], what: str) -> tuple[Tensor, Tensor | None, float]:
    """A ``DataLoader`` or ``IterableDataset`` read whole into memory."""
    parts = list(stream_batches(obj, what))
    if not parts:
        raise DataError(f"{what} ({type(obj).__name__}) gave no examples")
    return torch.cat([x for x, _ in parts]), concat_labels(parts), 1.0


def stream_batches(obj: Iterable[Any], what: str, chunk: int = 256) -> Iterator[tuple[Tensor, Tensor | None]]:
    """``(x, labels)`` batches of a ``DataLoader`` (as it batches) or an ``IterableDataset`` (``chunk`` items each).

    Every batch must have the first batch's example shape; ``(B, H, W)`` stays as it is.
    """
    loader = obj if isinstance(obj, DataLoader) else DataLoader(obj, batch_size=chunk, collate_fn=collate_items)
    shape = None
    for i, batch in enumerate(_reading(loader, what)):
        x, y = batch_parts(batch, f"batch {i} of {what}")
        shape = x.shape[1:] if shape is None else shape
        if x.shape[1:] != shape:
            raise DataError(
                f"batch {i} of {what} has examples of shape {tuple(x.shape[1:])}, but batch 0 has {tuple(shape)}: "
                "every example needs the same shape"
            )
        yield x, y


def _reading(loader: Iterable[Any], what: str) -> Iterator[Any]:
    """The loader's batches; an error raised while reading one is a :class:`DataError` naming the batch."""
    iterator, i = iter(loader), 0
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except DataError:
            raise
        except Exception as err:  # the user's dataset or collate function: reported in one line
            first = str(err).splitlines()[0] if str(err) else ""
            raise DataError(
                f"reading batch {i} of {what} failed ({type(err).__name__}: {first}); items with None labels need "
                "collate_fn=pyro_vae.data.collate_items in the DataLoader"
            ) from err
        yield batch
        i += 1


def concat_labels(parts: list[tuple[Tensor, Tensor | None]]) -> Tensor | None:
    """The labels of batches side by side: ``None`` when no batch has labels, else ``-1`` for the batches without."""
    known = next((y for _, y in parts if y is not None), None)
    if known is None:
        return None
    fill = [torch.full((len(x), *known.shape[1:]), MISSING, dtype=torch.int64) if y is None else y for x, y in parts]
    if any(y.shape[1:] != known.shape[1:] for y in fill):
        raise DataError("batches have labels of different shapes: give every example one label per factor")
    return torch.cat(fill)


def describe(obj: Any) -> str:
    """What a Python data object is, for the run's ``data.origin``: its type and, if it has one, its length."""
    inner = obj.dataset if isinstance(obj, DataLoader) else None
    name = f"{type(obj).__module__}.{type(obj).__qualname__}"
    if inner is not None:
        name += f" over {describe(inner)}"
    elif is_torch_dataset(obj) or isinstance(obj, (Tensor, np.ndarray)):
        try:
            name += f" of {len(obj)} items"
        except TypeError:
            pass
    return name
