"""The training curve: train and validation ELBO per epoch."""

from __future__ import annotations

import os
from pathlib import Path

from pyro_vae.plots._figure import plt, save_figure

__all__ = ["save_training_curve"]


def save_training_curve(history: list[dict[str, float]], path: str | os.PathLike[str]) -> Path:
    """Plot ``train_elbo`` and ``val_elbo`` (nats per example) against the epoch."""
    epochs = [row["epoch"] for row in history]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(epochs, [row["train_elbo"] for row in history], marker=".", label="train ELBO")
    ax.plot(epochs, [row["val_elbo"] for row in history], marker=".", label="validation ELBO")
    best = max(history, key=lambda row: row["val_elbo"])
    ax.axvline(best["epoch"], color="grey", linestyle=":", label=f"best epoch ({int(best['epoch'])})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("ELBO per example (nats)")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
