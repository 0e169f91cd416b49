"""The Python entry points behind every CLI command: fit, resume, evaluate, sample, load."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyro
import torch

from pyro_vae.config import RunConfig, apply_override, config_from_dict, config_to_dict, resolve_config, write_toml
from pyro_vae.config.overrides import parse_assignment
from pyro_vae.config.resolve import ConfigSource
from pyro_vae.data import FILE_SOURCES, DataBundle, check_support, load_data, resolve_binarize
from pyro_vae.errors import ConfigError, DataError
from pyro_vae.evaluation import SplitEvaluation, evaluate_split
from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.plots import save_image_grid, write_pictures
from pyro_vae.registry import normalize_spec
from pyro_vae.training import RunDir, Trainer, load_checkpoint, write_json
from pyro_vae.vae import MODEL_KINDS, VAE

__all__ = ["FitResult", "evaluate", "fit", "load_run", "resume", "sample"]

Log = Callable[[str], None]

#: sections a resumed run may change; the data and the model are fixed by the checkpoint
RESUMABLE_SECTIONS = ("train", "eval")


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    vae
        The fitted model and guide, with the parameters of the best validation epoch.
    config
        The resolved configuration.
    data
        The prepared splits.
    history
        One dict per epoch (the rows of ``metrics.csv``).
    summary
        The figures written to ``summary.json``.
    run_dir
        The run directory, or ``None`` for an in-memory fit.
    """

    vae: VAE
    config: RunConfig
    data: DataBundle
    history: list[dict[str, float]]
    summary: dict[str, Any]
    run_dir: Path | None


def _data_keywords(data: Any) -> dict[str, Any]:
    """Config keywords for ``fit(data=...)``: a file path picks its source, an array the ``array`` source."""
    if data is None:
        return {}
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if path.is_dir():
            return {"data.name": "image_folder", "data.path": str(path)}
        if path.suffix.lower() not in FILE_SOURCES:
            raise DataError(
                f"cannot tell the format of {str(path)!r}: use a {', '.join(FILE_SOURCES)} file or a folder of images"
            )
        return {"data.name": FILE_SOURCES[path.suffix.lower()], "data.path": str(path)}
    return {"data.name": "array"}


def _absolute_paths(config: RunConfig) -> RunConfig:
    """``data.path`` and ``data.root`` made absolute, so a saved run finds its data from anywhere."""
    data = config.data
    fixed = {k: str(Path(v).expanduser().resolve()) for k in ("path", "root") if (v := getattr(data, k))}
    return replace(config, data=replace(data, **fixed))


def _prepare(config: RunConfig, array: Any, labels: Any) -> DataBundle:
    likelihood_cls = LIKELIHOODS.get(normalize_spec(config.model.likelihood, "likelihood")["name"])
    binarize = resolve_binarize(config.data.binarize, likelihood_cls)
    in_memory = array if config.data.name == "array" else None
    return load_data(config.data, binarize, array=in_memory, labels=labels if in_memory is not None else None)


def _build(config: RunConfig, data: DataBundle) -> VAE:
    vae = MODEL_KINDS.get(config.model.kind)(config.model, data.event_shape)
    check_support(data, vae.likelihood)
    return vae


def _summary(
    config: RunConfig,
    data: DataBundle,
    test: SplitEvaluation,
    trainer: Trainer | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    summary = dict(previous or {})
    if trainer is not None:
        epochs = len(trainer.history)
        summary.update(
            epochs=epochs,
            best_epoch=trainer.stopper.best_epoch,
            best_val_elbo=trainer.stopper.best,
            stopped_early=trainer.stopped_early,
            train_seconds=trainer.train_seconds,
            seconds_per_epoch=trainer.train_seconds / max(epochs, 1),
        )
    summary.update(
        test_elbo=test.elbo,
        test_log_likelihood=test.log_likelihood,
        log_likelihood_samples=test.samples,
        n_train=len(data.train),
        n_val=len(data.val),
        n_test=len(data.test),
        event_shape=list(data.event_shape),
        data=config.data.name,
        binarize=data.binarize,
        model=config.model.kind,
        z_dim=config.model.z_dim,
        prior=normalize_spec(config.model.prior, "prior"),
        likelihood=normalize_spec(config.model.likelihood, "likelihood"),
        estimator=normalize_spec(config.train.estimator, "estimator"),
        versions={"python": platform.python_version(), "torch": torch.__version__, "pyro": pyro.__version__},
    )
    return summary


def _finish(
    trainer: Trainer, config: RunConfig, data: DataBundle, run: RunDir | None, log: Log | None, pictures: bool
) -> FitResult:
    trainer.restore_best()
    test = evaluate_split(trainer.vae, data.test, config.eval.samples, config.eval.batch_size, config.eval.seed)
    summary = _summary(config, data, test, trainer)
    if log is not None:
        log(
            f"test elbo {test.elbo:.3f}  test log-likelihood {test.log_likelihood:.3f} "
            f"(importance sampling, K={test.samples}), nats per example"
        )
    if run is not None:
        write_json(summary, run.summary)
        if pictures:
            for path in write_pictures(trainer.vae, data, trainer.history, run.root):
                if log is not None:
                    log(f"wrote {path}")
    return FitResult(trainer.vae, config, data, trainer.history, summary, run.root if run else None)


def fit(
    config: ConfigSource = None,
    *,
    data: Any = None,
    labels: Any = None,
    out: str | os.PathLike[str] | None = None,
    overrides: Iterable[str] = (),
    log: Log | None = None,
    progress: bool = False,
    pictures: bool = True,
    **keywords: Any,
) -> FitResult:
    """Fit a VAE and evaluate it on the test split.

    Parameters
    ----------
    config
        A TOML file, dict or :class:`RunConfig` (``None``: the defaults, digits).
    data
        Your own examples: a NumPy array or torch tensor ``(N, D)``,
        ``(N, H, W)`` or ``(N, C, H, W)``, or a path to a ``.npy``/``.npz``/``.csv``
        file or an image folder.
    labels
        Integer labels for in-memory ``data`` (used for pictures), optional.
    out
        Run directory to create (it must not hold files); ``None`` writes nothing.
    overrides
        ``"key=value"`` strings, as ``--set`` on the command line.
    log
        Called with progress lines (e.g. ``print``); ``None`` is silent.
    progress
        Show a progress bar over each epoch.
    pictures
        Write the PNG pictures into ``out``.
    **keywords
        Configuration keys by field name (``prior="mixture"``, ``epochs=5``),
        whole sections (``train={"lr": 1e-3}``) or dotted keys.

    Returns
    -------
    FitResult
    """
    config = _absolute_paths(resolve_config(config, overrides, **{**_data_keywords(data), **keywords}))
    if out is not None:
        RunDir.check_new(out)
    pyro.set_rng_seed(config.seed)
    prepared = _prepare(config, data, labels)
    vae = _build(config, prepared)
    run = RunDir.create(out) if out is not None else None
    if run is not None:
        write_toml(config_to_dict(config), run.config)
    trainer = Trainer(vae, config, prepared, run, log=log, progress=progress)
    trainer.fit()
    return _finish(trainer, config, prepared, run, log, pictures)


def _resumed_config(saved: dict[str, Any], overrides: Iterable[str]) -> RunConfig:
    values = dict(saved)
    for text in overrides:
        key, value = parse_assignment(text)
        if key.split(".")[0] not in RESUMABLE_SECTIONS:
            raise ConfigError(
                f"cannot change {key!r} when resuming: only train.* and eval.* keys may change; "
                "start a new run to change the data or the model"
            )
        apply_override(values, key, value)
    return resolve_config(config_from_dict(values))


def resume(
    run_dir: str | os.PathLike[str],
    *,
    overrides: Iterable[str] = (),
    data: Any = None,
    labels: Any = None,
    log: Log | None = None,
    progress: bool = False,
    pictures: bool = True,
) -> FitResult:
    """Continue training the run in ``run_dir`` from its last completed epoch.

    ``overrides`` may change ``train.*`` and ``eval.*`` keys, e.g.
    ``["train.epochs=40"]`` to train longer. Runs fitted on an in-memory
    array need the same ``data`` (and ``labels``) again.
    """
    run = RunDir.open(run_dir)
    state = load_checkpoint(run.checkpoint)
    config = _resumed_config(state["config"], overrides)
    if state["epoch"] >= config.train.epochs:
        raise ConfigError(
            f"{str(run.root)!r} already trained {state['epoch']} of {config.train.epochs} epochs: "
            f"raise train.epochs to continue (e.g. --set train.epochs={state['epoch'] + 10})"
        )
    prepared = _load_run_data(config, state, data, labels)
    vae = _build(config, prepared)
    trainer = Trainer(vae, config, prepared, run, log=log, progress=progress)
    trainer.load_state_dict(state)
    write_toml(config_to_dict(config), run.config)
    if log is not None:
        log(f"resuming {run.root} at epoch {trainer.epoch + 1} of {config.train.epochs}")
    trainer.fit()
    return _finish(trainer, config, prepared, run, log, pictures)


def _load_run_data(config: RunConfig, state: dict[str, Any], data: Any, labels: Any) -> DataBundle:
    if config.data.name == "array" and data is None:
        raise DataError(
            "this run was fitted on an in-memory array: pass the same array again from Python "
            "(pyro_vae.resume/evaluate(..., data=array)); the command line cannot reload it"
        )
    prepared = _prepare(config, data, labels)
    if list(prepared.event_shape) != list(state["event_shape"]):
        raise DataError(
            f"the data now has examples of shape {prepared.event_shape}, but the run was fitted on "
            f"{tuple(state['event_shape'])}: pass the data the run was fitted on"
        )
    return prepared


def _load_best(run: RunDir) -> tuple[VAE, RunConfig, dict[str, Any]]:
    state = load_checkpoint(run.best)
    config = resolve_config(config_from_dict(state["config"]))
    vae = MODEL_KINDS.get(config.model.kind)(config.model, tuple(state["event_shape"]))
    vae.load_state_dict(state["model"])
    vae.eval()
    return vae, config, state


def load_run(run_dir: str | os.PathLike[str]) -> tuple[VAE, RunConfig]:
    """The fitted VAE (best validation epoch) of a run directory and its configuration."""
    vae, config, _ = _load_best(RunDir.open(run_dir, need_best=True))
    return vae, config


def evaluate(
    run_dir: str | os.PathLike[str],
    *,
    samples: int | None = None,
    data: Any = None,
    labels: Any = None,
    log: Log | None = None,
) -> dict[str, Any]:
    """Re-evaluate a run on its test split and rewrite its ``summary.json``.

    Parameters
    ----------
    run_dir
        A run directory written by :func:`fit`.
    samples
        ``K`` for the importance-sampled log-likelihood (default: the run's ``eval.samples``).
    data, labels
        The in-memory array again, for runs fitted on one.
    """
    run = RunDir.open(run_dir, need_best=True)
    vae, config, state = _load_best(run)
    if samples is not None:
        config = resolve_config(config, [f"eval.samples={samples}"])
    prepared = _load_run_data(config, state, data, labels)
    check_support(prepared, vae.likelihood)
    ev = config.eval
    test = evaluate_split(vae, prepared.test, ev.samples, ev.batch_size, ev.seed)
    previous = _read_summary(run.summary)
    summary = _summary(config, prepared, test, previous=previous)
    write_json(summary, run.summary)
    if log is not None:
        log(f"test elbo {test.elbo:.3f}  test log-likelihood {test.log_likelihood:.3f} (K={test.samples})")
    return summary


def _read_summary(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        print(f"warning: {path} was not valid JSON; writing a fresh one", file=sys.stderr)
        return {}


def sample(
    run_dir: str | os.PathLike[str], n: int, out: str | os.PathLike[str] | None = None, seed: int = 0
) -> torch.Tensor:
    """Draw ``n`` examples ``E[x | z]``, ``z ~ p(z)``, from a run; optionally save them as a PNG grid."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"the number of samples must be a positive integer, got {n!r}")
    vae, _ = load_run(run_dir)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        x = vae.sample(n)
    if out is not None:
        out = Path(out)
        if out.suffix.lower() != ".png":
            raise ConfigError(f"--out {str(out)!r} must be a .png file")
        out.parent.mkdir(parents=True, exist_ok=True)
        lo, hi = float(x.min()), float(x.max())
        save_image_grid(x, out, f"{n} samples from {Path(run_dir).name}", (min(lo, 0.0), max(hi, 1.0)))
    return x
