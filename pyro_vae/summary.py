"""The figures of a run written to ``summary.json``."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

import pyro
import torch

from pyro_vae.config import RunConfig
from pyro_vae.data import DataBundle
from pyro_vae.diagnostics import summarize_khat
from pyro_vae.evaluation import SplitEvaluation
from pyro_vae.registry import normalize_spec
from pyro_vae.training import Trainer

__all__ = ["make_summary", "read_summary"]


def _training_figures(trainer: Trainer) -> dict[str, Any]:
    epochs = len(trainer.history)
    return {
        "epochs": epochs,
        "best_epoch": trainer.stopper.best_epoch,
        "best_val_elbo": trainer.best_val_elbo,
        "selected_by": trainer.selected_by,
        "stopped_early": trainer.stopped_early,
        "train_seconds": trainer.train_seconds,
        "seconds_per_epoch": trainer.train_seconds / max(epochs, 1),
    }


def make_summary(
    config: RunConfig,
    data: DataBundle,
    test: SplitEvaluation,
    trainer: Trainer | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Test figures, data and model description; training figures from ``trainer`` or kept from ``previous``."""
    summary = dict(previous or {})
    if trainer is not None:
        summary.update(_training_figures(trainer))
    summary.update(
        test_elbo=test.elbo,
        test_log_likelihood=test.log_likelihood,
        log_likelihood_samples=test.samples,
        **summarize_khat(test.khat),
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


def read_summary(path: Path) -> dict[str, Any]:
    """A run's ``summary.json`` (empty if missing; a damaged one is reported and replaced)."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        print(f"warning: {path} was not valid JSON; writing a fresh one", file=sys.stderr)
        return {}
