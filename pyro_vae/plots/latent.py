"""Pictures of the latent space: the decoded 2-D manifold and the encoded test set."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pyro_vae.plots._figure import plt, save_figure
from pyro_vae.plots.images import tile
from pyro_vae.vae import VAE

__all__ = ["latent_grid", "save_latent_scatter", "save_manifold"]


def latent_grid(vae: VAE, n: int, draws: int = 20_000) -> Tensor:
    """An ``n x n`` grid of 2-D latent codes at the prior's quantiles 3%..97% per axis, shape ``(n*n, 2)``.

    For ``N(0, I)`` this is the classic grid through the inverse normal CDF;
    for other priors the quantiles are estimated from ``draws`` samples.
    """
    with torch.no_grad():
        z = vae.sample_prior(draws)
    q = torch.linspace(0.03, 0.97, n)
    axes = [torch.quantile(z[:, d], q) for d in range(2)]
    rows, cols = torch.meshgrid(axes[1].flip(0), axes[0], indexing="ij")
    return torch.stack([cols.flatten(), rows.flatten()], dim=-1)


def save_manifold(vae: VAE, path: str | os.PathLike[str], value_range: tuple[float, float], n: int = 20) -> Path:
    """Decode a grid over a 2-D latent space into one tiled picture (images only)."""
    with torch.no_grad():
        images = vae.decode(latent_grid(vae, n))
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
