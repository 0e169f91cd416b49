"""Grids of examples: samples, reconstructions, decoded latent manifolds.

Images ``(C, H, W)`` are tiled; vectors ``(D,)`` are drawn as rows of a heat map.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from torch import Tensor

from pyro_vae.plots._figure import plt, save_figure

__all__ = ["save_image_grid", "save_image_table", "save_reconstructions", "tile"]


def tile(x: Tensor, nrow: int, lo: float, hi: float, pad: int = 1) -> np.ndarray:
    """Tile ``x`` ``(N, C, H, W)`` into one ``[0, 1]`` array, ``nrow`` images per row, ``pad`` white pixels apart."""
    n, c, h, w = x.shape
    rows = math.ceil(n / nrow)
    scaled = ((x.detach().float().cpu().numpy() - lo) / max(hi - lo, 1e-12)).clip(0, 1)
    canvas = np.ones((rows * (h + pad) - pad, nrow * (w + pad) - pad, c), dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = r * (h + pad), col * (w + pad)
        canvas[top : top + h, left : left + w] = scaled[i].transpose(1, 2, 0)
    return canvas[..., 0] if c == 1 else canvas


def _show(ax: plt.Axes, x: Tensor, nrow: int, lo: float, hi: float) -> None:
    if x.dim() == 4:
        ax.imshow(tile(x, nrow, lo, hi), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        shown = ax.imshow(
            x.detach().cpu().numpy(), cmap="viridis", vmin=lo, vmax=hi, aspect="auto", interpolation="nearest"
        )
        ax.set_xlabel("feature")
        ax.set_ylabel("example")
        ax.figure.colorbar(shown, ax=ax, fraction=0.046)


def save_image_grid(
    x: Tensor, path: str | os.PathLike[str], title: str, value_range: tuple[float, float], nrow: int | None = None
) -> Path:
    """Save examples ``x`` (images or vectors) as one picture.

    Parameters
    ----------
    x
        ``(N, C, H, W)`` images or ``(N, D)`` vectors.
    path
        The PNG to write.
    title
        Figure title.
    value_range
        Data values mapped to black and white (or the colour map's ends).
    nrow
        Images per row (default: a square grid).
    """
    nrow = nrow or math.ceil(math.sqrt(x.shape[0]))
    fig, ax = plt.subplots(figsize=(6, 6) if x.dim() == 4 else (8, 5))
    _show(ax, x, nrow, *value_range)
    ax.set_title(title)
    return save_figure(fig, path)


def save_reconstructions(
    originals: Tensor, reconstructions: Tensor, path: str | os.PathLike[str], value_range: tuple[float, float]
) -> Path:
    """Save originals and their reconstructions side by side."""
    nrow = math.ceil(math.sqrt(originals.shape[0]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.5) if originals.dim() == 4 else (12, 5))
    for ax, x, title in zip(
        axes, (originals, reconstructions), ("test examples", "reconstructions E[x | z = mu(x)]"), strict=True
    ):
        _show(ax, x, nrow, *value_range)
        ax.set_title(title)
    return save_figure(fig, path)


def save_image_table(
    images: Tensor, ncol: int, path: str | os.PathLike[str], value_range: tuple[float, float], title: str
) -> Path:
    """Save images ``(N, C, H, W)`` as a table of ``ncol`` columns, the figure sized to the table."""
    fig, ax = plt.subplots(figsize=(0.6 * ncol + 1, 0.6 * len(images) / ncol + 1))
    ax.imshow(tile(images, ncol, *value_range), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)
