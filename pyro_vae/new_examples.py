"""New examples for a fitted run (``pyro-vae score`` / ``encode``), prepared the way the run's test split was.

A file is read by its format (``.npy``, ``.npz``, ``.csv``, a folder of images; with the run's
source options when the run read the same format), divided by the run's scale (``data.scale``,
or the number ``"auto"`` chose from the run's own source: 16 for the digits, 255 for 8-bit
images) and binarized by the run's rule (``fixed``: at 0.5; ``dynamic``: one seeded Bernoulli
draw per value, as the run's validation and test splits were), so the figures are those of the
run's own test data. Examples of another shape than the run's are refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pyro_vae.config import RunConfig
from pyro_vae.data import DATASETS, FILE_SOURCES, MappedRows, Split, resolve_binarize
from pyro_vae.data.mapped import RowBernoulli, RowThreshold, scaled, value_bounds
from pyro_vae.data.prepare import binarize_fixed
from pyro_vae.errors import DataError
from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.registry import normalize_spec

__all__ = ["examples_like_run"]


def examples_like_run(config: RunConfig, event_shape: tuple[int, ...], path: str | os.PathLike[str]) -> Split:
    """The examples of file (or image folder) ``path`` as a :class:`Split`, prepared as the run's data were.

    Parameters
    ----------
    config
        The run's resolved configuration.
    event_shape
        The shape of the run's examples (its checkpoint's ``event_shape``).
    path
        The new data.

    Raises
    ------
    DataError
        For a file of unknown format, unreadable data, examples of another shape, values a binarizing
        run cannot take (outside ``[0, 1]`` once scaled), or an ``"auto"`` scale that cannot be recovered.
    """
    raw = DATASETS.build(_file_spec(config, Path(path)))
    x = raw.x
    if tuple(x.shape[1:]) != tuple(event_shape):
        raise DataError(
            f"{str(path)!r} holds examples of shape {tuple(x.shape[1:])}, but the run was fitted on "
            f"{tuple(event_shape)}: pass data of the run's shape"
        )
    x = scaled(x, _run_scale(config))
    binarize = resolve_binarize(
        config.data.binarize, LIKELIHOODS.get(normalize_spec(config.model.likelihood, "likelihood")["name"])
    )
    return Split(_binarized(x, binarize, config.eval.seed, path), raw.labels)


def _file_spec(config: RunConfig, path: Path) -> dict[str, Any]:
    """The data source reading ``path``: the run's own options when the run read the same format."""
    if path.is_dir():
        name = "image_folder"
    elif path.suffix.lower() in FILE_SOURCES:
        name = FILE_SOURCES[path.suffix.lower()]
    else:
        raise DataError(
            f"cannot tell the format of {str(path)!r}: use a {', '.join(FILE_SOURCES)} file or a folder of images"
        )
    if not path.exists():
        raise DataError(f"no such file or folder: {str(path)!r}")
    spec = config.data.source_spec()
    kept = {k: v for k, v in spec.items() if k not in ("name", "path", "run", "mmap")} if spec["name"] == name else {}
    return {**kept, "name": name, "path": str(path)}


def _run_scale(config: RunConfig) -> float:
    """The number the run divided its data by: ``data.scale``, or what ``"auto"`` chose from the run's source."""
    if config.data.scale != "auto":
        return float(config.data.scale)
    if config.data.name == "array":
        raise DataError(
            "this run was fitted on an in-memory array with data.scale = 'auto', whose scale the run does not "
            "record: score from Python (vae.log_likelihood(x), x scaled as the run's data), or fit with a number "
            "for data.scale"
        )
    return DATASETS.build(config.data.source_spec()).auto_scale


def _binarized(x: Tensor | MappedRows, mode: str, seed: int, path: str | os.PathLike[str]) -> Tensor | MappedRows:
    """``x`` binarized as the run's test split was (``none``: unchanged)."""
    if mode == "none":
        return x
    low, high = value_bounds(x)
    if low < 0 or high > 1:
        raise DataError(
            f"the run binarizes its data ({mode}), but {str(path)!r} has values in [{low:g}, {high:g}] once divided "
            "by the run's scale: pass data on the run's scale (e.g. 8-bit pixels for a run on 8-bit images)"
        )
    generator = torch.Generator().manual_seed(seed)
    if isinstance(x, MappedRows):
        seeded = RowBernoulli(int(torch.randint(2**62, (1,), generator=generator)))
        return x.then(RowThreshold() if mode == "fixed" else seeded)
    return binarize_fixed(x) if mode == "fixed" else torch.bernoulli(x, generator=generator)
