"""Pictures of an estimator comparison: learning curves and gradient SNR against the number of particles."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from pyro_vae.plots._figure import plt, save_figure

__all__ = ["save_learning_curves", "save_snr_vs_k"]


class _Point(Protocol):
    estimator: str
    num_particles: int
    snr_encoder: float
    snr_decoder: float


def save_learning_curves(histories: dict[str, list[dict[str, float]]], path: str | os.PathLike[str]) -> Path:
    """Validation ELBO per epoch of every estimator on one chart."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, history in histories.items():
        ax.plot([r["epoch"] for r in history], [r["val_elbo"] for r in history], marker=".", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation ELBO per example (nats)")
    ax.set_title("learning curves (same data, initialisation and epochs)")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def save_snr_vs_k(points: Sequence[_Point], reference: str, path: str | os.PathLike[str]) -> Path:
    """Encoder and decoder gradient SNR against ``K`` for each estimator, log-log."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, part in zip(axes, ("encoder", "decoder"), strict=True):
        for name in dict.fromkeys(p.estimator for p in points):
            mine = [p for p in points if p.estimator == name]
            ax.plot([p.num_particles for p in mine], [getattr(p, f"snr_{part}") for p in mine], marker="o", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("particles K")
        ax.set_ylabel(f"{part} gradient SNR")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.suptitle(f"gradient SNR at the parameters trained with {reference}")
    return save_figure(fig, path)
