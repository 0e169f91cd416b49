"""The PSIS k-hat histogram of a guide's importance weights over the test set."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pyro_vae.plots._figure import plt, save_figure

__all__ = ["save_khat_histogram"]


def save_khat_histogram(khat: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Histogram of k-hat per test point with the 0.5 (good) and 0.7 (unreliable) thresholds."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    finite = khat[np.isfinite(khat)]
    ax.hist(finite, bins=40, color="tab:blue", alpha=0.8)
    for threshold, colour in ((0.5, "tab:orange"), (0.7, "tab:red")):
        ax.axvline(threshold, color=colour, linestyle="--", label=f"k-hat = {threshold}")
    share = float(np.mean(~(khat <= 0.7)))
    ax.set_xlabel("Pareto k-hat of the importance weights p(x, z) / q(z | x)")
    ax.set_ylabel("test points")
    missing = f" ({len(khat) - len(finite)} non-finite, not drawn)" if len(finite) < len(khat) else ""
    ax.set_title(f"PSIS diagnostic of the guide: {share:.1%} of {len(khat)} points above 0.7{missing}")
    ax.legend()
    return save_figure(fig, path)
