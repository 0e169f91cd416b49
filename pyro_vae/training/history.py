"""Per-epoch metrics, kept in memory and mirrored to ``metrics.csv``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pyro_vae._files import atomic_write_text

__all__ = ["METRIC_COLUMNS", "read_metrics", "write_metrics"]

#: one row per epoch, in nats per example (higher is better): ``train_elbo`` is the estimator's own
#: bound on the training batches (the IWAE or Renyi bound for those estimators), ``val_elbo`` the ELBO;
#: ``seconds`` is the epoch's wall time, ``data_seconds`` the part of it spent waiting for training batches;
#: ``rollbacks`` counts the divergence rollbacks made before the epoch was completed (train.on_divergence)
METRIC_COLUMNS = ("epoch", "train_elbo", "val_elbo", "kl_weight", "lr", "seconds", "data_seconds", "rollbacks")


def write_metrics(history: list[dict[str, float]], path: Path) -> None:
    """Rewrite ``path`` with every row of ``history`` (atomically, so it always matches the checkpoint).

    The standard columns come first, then any others the model adds (e.g. validation accuracy).
    """
    extra = [key for key in dict.fromkeys(k for row in history for k in row) if key not in METRIC_COLUMNS]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=[*METRIC_COLUMNS, *extra])
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, text.getvalue())


def read_metrics(path: Path) -> list[dict[str, float]]:
    """The rows of a ``metrics.csv`` as numbers (empty if the file is missing).

    A column a row lacks (a run resumed across versions) is left out of that row.
    """
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [{key: float(value) for key, value in row.items() if value != ""} for row in csv.DictReader(handle)]
