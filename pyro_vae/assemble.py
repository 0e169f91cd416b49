"""From a resolved config to prepared data and a VAE: the steps fit, resume, evaluate and compare share."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyro

from pyro_vae.config import RunConfig, config_from_dict, resolve_config
from pyro_vae.data import (
    FILE_SOURCES,
    IN_MEMORY_SOURCES,
    DataBundle,
    StreamedRows,
    load_data,
    origin_of,
    resolve_binarize,
    source_of,
)
from pyro_vae.data.features import FittedEncoder
from pyro_vae.data.labels import check_labelled
from pyro_vae.errors import ConfigError, DataError
from pyro_vae.kinds import MODEL_KINDS, DataShape
from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.programs import Programs
from pyro_vae.registry import normalize_spec
from pyro_vae.training import RunDir, check_parameters
from pyro_vae.vae import VAE

__all__ = [
    "absolute_paths",
    "build_checked",
    "data_keywords",
    "initial_vae",
    "load_best",
    "load_run_data",
    "open_feature_run",
    "prepare_data",
    "vae_from_best",
]


def data_keywords(data: Any, val: Any = None, test: Any = None) -> dict[str, Any]:
    """Config keywords for ``fit(data=...)``: a file path picks its source, a Python object its own.

    Arrays and tensors read as ``array``, map-style torch datasets as ``dataset``, loaders and
    ``IterableDataset`` s as ``stream``; the last two record what they were in ``data.origin``.
    Held-out objects (``val_data``, ``test_data``) go with a Python object only.
    """
    if data is None or isinstance(data, (str, os.PathLike)):
        if val is not None or test is not None:
            raise ConfigError(
                "val_data= and test_data= go with training data passed as a Python object (data=array, "
                "Dataset or DataLoader); a named source or a file splits itself (data.val_fraction, data.test_fraction)"
            )
        return {} if data is None else _path_keywords(Path(data))
    source = source_of(data)
    origin = {"data.origin": origin_of(data, val, test)} if source != "array" else {}
    return {"data.name": source, **origin}


def _path_keywords(path: Path) -> dict[str, Any]:
    """The source of a data file or image folder."""
    if path.is_dir():
        return {"data.name": "image_folder", "data.path": str(path)}
    if path.suffix.lower() not in FILE_SOURCES:
        raise DataError(
            f"cannot tell the format of {str(path)!r}: use a {', '.join(FILE_SOURCES)} file or a folder of images"
        )
    return {"data.name": FILE_SOURCES[path.suffix.lower()], "data.path": str(path)}


def absolute_paths(config: RunConfig) -> RunConfig:
    """``data.path``, ``data.root`` and ``data.run`` made absolute, so a saved run finds its data anywhere."""
    data = config.data
    fixed = {k: str(Path(v).expanduser().resolve()) for k in ("path", "root", "run") if (v := getattr(data, k))}
    return replace(config, data=replace(data, **fixed))


def prepare_data(
    config: RunConfig, array: Any = None, labels: Any = None, val: Any = None, test: Any = None
) -> DataBundle:
    """Load the data ``config`` names; ``binarize = "auto"`` follows the configured likelihood.

    ``array``, ``labels``, ``val`` and ``test`` are the Python objects of a source that takes them
    (:data:`~pyro_vae.data.IN_MEMORY_SOURCES`), ignored for the others.
    """
    likelihood_cls = LIKELIHOODS.get(normalize_spec(config.model.likelihood, "likelihood")["name"])
    binarize = resolve_binarize(config.data.binarize, likelihood_cls)
    passed = config.data.name in IN_MEMORY_SOURCES
    return load_data(
        config.data,
        binarize,
        array=array if passed else None,
        labels=labels if passed else None,
        open_run=open_feature_run,
        val=val if passed else None,
        test=test if passed else None,
    )


def open_feature_run(run: str) -> FittedEncoder:
    """The encoder of the best epoch of run directory ``run`` and its data section, for ``vae_features``."""
    vae, config, _ = load_best(RunDir.open(Path(run).expanduser(), need_best=True))
    return FittedEncoder(encode=vae.encode, data=config.data)


def build_checked(config: RunConfig, data: DataBundle, programs: Programs | None = None) -> VAE:
    """The VAE ``config.model`` describes (or the user's ``programs``), sized for ``data``, checked against it.

    The likelihood's support always; the training labels too for a kind that learns from them, and
    whatever else the kind's own check asks of the configuration and the data (its grouping, say).
    """
    kind = MODEL_KINDS.get(config.model.kind)
    if kind.nested_plates and isinstance(data.train.x, StreamedRows):
        raise DataError(
            f"model kind {config.model.kind!r} trains on groups drawn from all training examples, which a stream "
            "read in order cannot give: pass a map-style Dataset or an array instead"
        )
    if kind.uses_labels:
        check_labelled(data.train.labels, data.shape.classes, config.model.kind)
    kind.check_run(config, data.shape)
    vae = kind.build(config.model, data.shape) if programs is None else programs.build(config, data.event_shape)
    vae.check_data(data)
    return vae


def initial_vae(config: RunConfig, data: DataBundle, programs: Programs | None = None) -> VAE:
    """The VAE as every fit of ``config`` starts it: all seeds set to ``config.seed``, then built.

    The user's own ``programs`` start from the parameters they hold.
    """
    pyro.set_rng_seed(config.seed)
    return build_checked(config, data, programs)


def load_run_data(
    config: RunConfig, state: dict[str, Any], data: Any = None, labels: Any = None, val: Any = None, test: Any = None
) -> DataBundle:
    """The data a saved run was fitted on (Python objects must be passed again: the source checks them)."""
    if config.data.name == "array" and data is None:
        raise DataError(
            "this run was fitted on an in-memory array: pass the same array again from Python "
            "(pyro_vae.resume/evaluate(..., data=array)); the command line cannot reload it"
        )
    prepared = prepare_data(config, data, labels, val, test)
    if list(prepared.event_shape) != list(state["event_shape"]):
        raise DataError(
            f"the data now has examples of shape {prepared.event_shape}, but the run was fitted on "
            f"{tuple(state['event_shape'])}: pass the data the run was fitted on"
        )
    return prepared


def load_best(run: RunDir, programs: Programs | None = None) -> tuple[VAE, RunConfig, dict[str, Any]]:
    """The VAE of the best validation epoch of ``run``, its config and the raw checkpoint.

    A run of the user's own Pyro programs (kind ``program``) needs the same ``programs`` again.

    ``best.pt`` is checked against its fingerprint, ``checkpoint.pt``, ``config.toml`` and the model its config
    describes (:meth:`RunDir.load`, :func:`~pyro_vae.training.identity.check_parameters`).
    """
    state = run.load(run.best)
    vae, config = vae_from_best(state, run.best, programs)
    return vae, config, state


def vae_from_best(state: dict[str, Any], source: Path, programs: Programs | None = None) -> tuple[VAE, RunConfig]:
    """The VAE (in evaluation mode) and config of ``best.pt``'s checkpoint ``state``, read from ``source``.

    For a process that was handed process 0's checkpoint (evaluation under torchrun); :func:`load_best` reads
    and checks the file first.
    """
    config = resolve_config(config_from_dict(state["config"]))
    shape = DataShape(tuple(state["event_shape"]), tuple(state.get("classes", ())))
    if programs is None:
        vae = MODEL_KINDS.get(config.model.kind).build(config.model, shape)
    else:
        vae = programs.build(config, shape.event_shape)
    check_parameters(vae, state["model"], source)
    vae.load_state_dict(state["model"])
    vae.eval()
    return vae, config
