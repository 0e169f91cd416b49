"""Pictures of the latent space: the decoded 2-D manifold and the encoded test set."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pyro_vae.plots._figure import plt, save_figure
from pyro_vae.plots.images import tile

__all__ = ["latent_grid", "save_latent_scatter", "save_manifold"]


def latent_grid(codes: Tensor, n: int) -> Tensor:
    """An ``n x n`` grid of 2-D latent codes at the quantiles 3%..97% per axis of ``codes``, shape ``(n*n, 2)``.

    ``codes`` ``(draws, 2)`` are draws from the prior: for ``N(0, I)`` the grid
    approaches the classic one through the inverse normal CDF.
    """
    q = torch.linspace(0.03, 0.97, n, dtype=codes.dtype, device=codes.device)
    axes = [torch.quantile(codes[:, d], q) for d in range(2)]
    rows, cols = torch.meshgrid(axes[1].flip(0), axes[0], indexing="ij")
    return torch.stack([cols.flatten(), rows.flatten()], dim=-1)


def save_manifold(images: Tensor, n: int, path: str | os.PathLike[str], value_range: tuple[float, float]) -> Path:
    """Save the ``n * n`` images decoded from a :func:`latent_grid` as one tiled picture."""
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.imshow(tile(images, n, *value_range), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("decoded latent manifold E[x | z] (z on a grid of prior quantiles)")
    return save_figure(fig, path)


def save_latent_scatter(z: Tensor, labels: Tensor | None, path: str | os.PathLike[str]) -> Path:
    """Scatter posterior means ``z`` (first two axes, or two principal components when ``z_dim > 2``)."""
    points = z.detach().cpu().numpy()
    axis_names = ("z1", "z2")
    if points.shape[1] > 2:
        from sklearn.decomposition import PCA

        points = PCA(n_components=2).fit_transform(points)
        axis_names = ("principal component 1 of z", "principal component 2 of z")
    elif points.shape[1] == 1:
        points = np.concatenate([points, np.zeros_like(points)], axis=1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=6, alpha=0.8)
    else:
        shown = ax.scatter(points[:, 0], points[:, 1], c=labels.cpu().numpy(), cmap="tab10", s=6, alpha=0.8)
        fig.colorbar(shown, ax=ax, label="label")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title("test set in latent space (posterior means)")
    return save_figure(fig, path)
