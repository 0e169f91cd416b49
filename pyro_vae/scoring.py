"""Scores and codes of new data under a fitted run: ``pyro-vae score`` and ``pyro-vae encode`` from Python.

The examples are read from a file and prepared as the run's data were (:mod:`pyro_vae.new_examples`);
scores use the run's ``eval.batch_size`` and ``eval.seed``, so scoring the run's own test split with
its ``eval.samples`` gives back ``summary.json``'s ``test_elbo`` and ``test_log_likelihood`` (their means).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pyro_vae._files import atomic_write, atomic_write_text, os_error
from pyro_vae.assemble import load_best
from pyro_vae.config import resolve_config
from pyro_vae.data.mapped import chunks
from pyro_vae.errors import ConfigError
from pyro_vae.evaluation import ExampleScores, score_examples
from pyro_vae.new_examples import examples_like_run
from pyro_vae.programs import program_keywords
from pyro_vae.training import RunDir

__all__ = ["check_out", "encode", "score", "write_codes", "write_scores"]


def score(
    run_dir: str | os.PathLike[str],
    data: str | os.PathLike[str],
    *,
    samples: int | None = None,
    model: Any = None,
    guide: Any = None,
) -> ExampleScores:
    """Per-example ELBO and importance-sampled ``log p(x)`` (nats, arrays ``(N,)``) of the examples in ``data``.

    Low values flag examples the model finds unlikely (anomaly scores). With ``K >= 25`` samples each
    example's PSIS k-hat comes too (``khat``; above 0.7 its log-likelihood estimate is unreliable).

    Parameters
    ----------
    run_dir
        A run directory written by :func:`pyro_vae.fit` (its best epoch is used).
    data
        A ``.npy`` / ``.npz`` / ``.csv`` file or a folder of images, on the scale of the run's raw data.
    samples
        ``K`` importance samples per example (default: the run's ``eval.samples``).
    model, guide
        Your own Pyro programs again, for a run of kind ``program``.

    Raises
    ------
    ConfigError, DataError, RunDirError
        For a bad ``samples``, unreadable or misshapen data, or a run that cannot be loaded.
    """
    run = RunDir.open(run_dir, need_best=True)
    vae, config, state = load_best(run, program_keywords(model, guide)[0])
    if samples is not None:
        config = resolve_config(config, [f"eval.samples={samples}"])
    split = examples_like_run(config, tuple(state["event_shape"]), data)
    ev = config.eval
    return score_examples(vae, split, ev.samples, ev.batch_size, ev.seed, psis=True, workers=ev.workers)


def encode(
    run_dir: str | os.PathLike[str], data: str | os.PathLike[str], *, model: Any = None, guide: Any = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Means and standard deviations of ``q(z | x)`` for the examples in ``data``, each ``(N, z_dim)``.

    ``data`` and the programs as for :func:`score`.
    """
    run = RunDir.open(run_dir, need_best=True)
    vae, config, state = load_best(run, program_keywords(model, guide)[0])
    split = examples_like_run(config, tuple(state["event_shape"]), data)
    parts = [vae.encode_all(x) for x in chunks(split.x)]
    return torch.cat([mean for mean, _ in parts]), torch.cat([std for _, std in parts])


def write_scores(scores: ExampleScores, path: str | os.PathLike[str]) -> Path:
    """``index,elbo,log_likelihood[,psis_khat]`` per example, one CSV row each (nats), written atomically."""
    columns = [scores.elbo, scores.log_likelihood] + ([] if scores.khat is None else [scores.khat])
    text = io.StringIO()
    text.write("index,elbo,log_likelihood" + ("" if scores.khat is None else ",psis_khat") + "\n")
    for i, values in enumerate(zip(*columns, strict=True)):
        text.write(",".join([str(i), *(repr(float(v)) for v in values)]) + "\n")
    return atomic_write_text(_parent_made(path), text.getvalue())


def write_codes(means: torch.Tensor, stds: torch.Tensor, path: str | os.PathLike[str]) -> Path:
    """An ``.npy`` array ``(N, 2, z_dim)``: ``[:, 0]`` the posterior means, ``[:, 1]`` the standard deviations."""
    codes = torch.stack([means, stds], 1).numpy()

    def write(tmp: Path) -> None:
        with tmp.open("xb") as handle:  # a handle: np.save would add ".npy" to the temporary name
            np.save(handle, codes)

    return atomic_write(_parent_made(path), write)


def _parent_made(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise os_error("create the folder", path.parent, err) from err
    return path


def check_out(path: str | os.PathLike[str], suffix: str) -> None:
    """Refuse an output file without ``suffix`` (before any work)."""
    if Path(path).suffix.lower() != suffix:
        raise ConfigError(f"--out {str(path)!r} must be a {suffix} file")
