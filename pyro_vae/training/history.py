"""Per-epoch metrics, kept in memory and mirrored to ``metrics.csv``."""

from __future__ import annotations

import csv
import os
from pathlib import Path

__all__ = ["METRIC_COLUMNS", "read_metrics", "write_metrics"]

#: one row per epoch, in nats per example (higher is better): ``train_elbo`` is the estimator's own
#: bound on the training batches (the IWAE or Renyi bound for those estimators), ``val_elbo`` the ELBO
METRIC_COLUMNS = ("epoch", "train_elbo", "val_elbo", "kl_weight", "lr", "seconds")


def write_metrics(history: list[dict[str, float]], path: Path) -> None:
    """Rewrite ``path`` with every row of ``history`` (atomically, so it always matches the checkpoint)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=METRIC_COLUMNS)
        writer.writeheader()
        for row in history:
            writer.writerow({k: row[k] for k in METRIC_COLUMNS})
    os.replace(tmp, path)


def read_metrics(path: Path) -> list[dict[str, float]]:
    """The rows of a ``metrics.csv`` as numbers (empty if the file is missing)."""
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(handle)]
