"""Data sources for Python objects passed to :func:`pyro_vae.fit`: arrays, torch datasets and streams.

``array``: a NumPy array or tensor. ``dataset``: a map-style ``torch.utils.data.Dataset``,
read into memory item by item (then split as arrays are). ``stream``: a ``DataLoader`` or
``IterableDataset``, left where it is and read in order each epoch (:mod:`pyro_vae.data.stream`);
its validation and test examples come from separate objects. The run records what the objects
were (``data.origin``, :func:`origin_of`), so resuming it checks that the same ones are passed again.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from pyro_vae.data._registry import DATASETS, RawData
from pyro_vae.data.arrays import as_examples, as_labels, auto_scale_for
from pyro_vae.data.stream import survey
from pyro_vae.data.torch_data import describe, is_stream, is_torch_dataset, read_examples
from pyro_vae.errors import DataError

__all__ = ["IN_MEMORY_SOURCES", "held_out", "in_memory", "origin_of", "source_of", "torch_dataset", "torch_stream"]

#: sources whose data a Python caller passes (the command line cannot give them; resuming needs them again)
IN_MEMORY_SOURCES = ("array", "dataset", "stream")


def source_of(data: Any) -> str:
    """The source name for a Python object passed as ``fit(data=...)``."""
    if is_stream(data):
        return "stream"
    return "dataset" if is_torch_dataset(data) else "array"


def origin_of(data: Any, val: Any = None, test: Any = None) -> str:
    """What the objects are (types and lengths), as recorded in ``data.origin``."""
    named = (("data", data), ("val_data", val), ("test_data", test))
    return "; ".join(f"{name}: {describe(obj)}" for name, obj in named if obj is not None)


def held_out(obj: Any, what: str) -> tuple[Tensor | None, Tensor | None]:
    """Examples and labels of a held-out object (any form :func:`read_examples` reads), or ``(None, None)``."""
    if obj is None:
        return None, None
    values, labels, _ = read_examples(obj, what)
    x = as_examples(values, what)
    return x, None if labels is None else as_labels(labels, len(x), f"the labels of {what}")


def _passed(obj: Any, source: str, origin: str, val: Any, test: Any) -> None:
    """Refuse a missing object (the command line, or a resume without it) and objects other than the run's."""
    if obj is None:
        was = f" ({origin})" if origin else ""
        raise DataError(
            f"data source {source!r} holds a Python object{was} passed as pyro_vae.fit(data=...); nothing was "
            "passed: pass the same objects again from Python (data=, val_data=, test_data=); the command line "
            "cannot reload them"
        )
    now = origin_of(obj, val, test)
    if origin and now != origin:
        raise DataError(f"the run was fitted on {origin}, but got {now}: pass the objects it was fitted on")


def _raw(x: Tensor, labels: Tensor | None, scale: float, val: Any, test: Any) -> RawData:
    val_x, val_labels = held_out(val, "val_data")
    test_x, test_labels = held_out(test, "test_data")
    return RawData(x, labels, val_x, val_labels, test_x, test_labels, auto_scale=scale)


@DATASETS.register("array")
def in_memory(array: Any = None, labels: Any = None, val: Any = None, test: Any = None) -> RawData:
    """Data given in memory to :func:`pyro_vae.fit` (a NumPy array or torch tensor), held-out splits optional."""
    if array is None:
        raise DataError(
            "data source 'array' holds data passed from Python as pyro_vae.fit(data=...); "
            "nothing was passed. From the command line use a file (.npy, .npz, .csv) or an image folder"
        )
    x = as_examples(array)
    y = None if labels is None else as_labels(labels, x.shape[0])
    return _raw(x, y, auto_scale_for(array), val, test)


@DATASETS.register("dataset")
def torch_dataset(
    array: Any = None, labels: Any = None, val: Any = None, test: Any = None, origin: str = ""
) -> RawData:
    """A map-style torch Dataset passed as pyro_vae.fit(data=...), read into memory; labels from its items.

    Parameters
    ----------
    origin
        What the dataset was (recorded by ``fit``; a resume must pass objects that match it).
    """
    _passed(array, "dataset", origin, val, test)
    if labels is not None:
        raise DataError("labels come from the dataset's items ((x, label) or {'x', 'label'}): leave labels= unset")
    values, item_labels, scale = read_examples(array, "the dataset")
    x = as_examples(values, "the dataset")
    y = None if item_labels is None else as_labels(item_labels, len(x), "the dataset's labels")
    return _raw(x, y, scale, val, test)


@DATASETS.register("stream")
def torch_stream(
    array: Any = None, labels: Any = None, val: Any = None, test: Any = None, limit: int = 0, origin: str = ""
) -> RawData:
    """A DataLoader or IterableDataset passed as pyro_vae.fit(data=...), streamed each epoch; needs val_data, test_data.

    Parameters
    ----------
    origin
        What the stream was (recorded by ``fit``; a resume must pass objects that match it).
    """
    _passed(array, "stream", origin, val, test)
    if labels is not None:
        raise DataError("labels come from the stream's batches ((x, label) or {'x', 'label'}): leave labels= unset")
    if val is None or test is None:
        raise DataError(
            "streamed training data are read in order and never held in memory, so they cannot be split: pass "
            "the validation and test examples as their own objects (val_data=..., test_data=...)"
        )
    rows, y = survey(array, "the training stream", limit)
    return _raw(rows, y, 1.0, val, test)
