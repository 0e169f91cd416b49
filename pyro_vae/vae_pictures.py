"""The pictures of a fitted plain VAE: what it computes, handed to :mod:`pyro_vae.plots`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from pyro_vae.plots import (
    latent_grid,
    save_image_grid,
    save_latent_scatter,
    save_manifold,
    save_reconstructions,
    save_training_curve,
)

if TYPE_CHECKING:
    from pyro_vae.data import DataBundle
    from pyro_vae.vae import VAE

__all__ = ["save_code_scatter", "value_range", "write_common_pictures", "write_vae_pictures"]

#: prior draws from which the manifold grid's quantiles are estimated
GRID_DRAWS = 20_000
#: rows (and columns) of the manifold grid
GRID_SIZE = 20
#: test examples encoded per forward pass for the latent scatter
ENCODE_CHUNK = 1000


@torch.no_grad()
def write_common_pictures(
    vae: VAE, data: DataBundle, history: list[dict[str, float]], folder: Path, sample_title: str, n_examples: int = 64
) -> list[Path]:
    """Samples (titled ``sample_title``), test reconstructions and the training curve: what every kind draws."""
    test = data.test
    originals = test.x[:n_examples]
    written = [
        save_image_grid(vae.sample(n_examples), folder / "samples.png", sample_title, value_range(data)),
        save_reconstructions(originals, vae.reconstruct(originals), folder / "reconstructions.png", value_range(data)),
    ]
    if history:
        written.append(save_training_curve(history, folder / "training_curve.png"))
    return written


def value_range(data: DataBundle) -> tuple[float, float]:
    """The test split's smallest and largest value: black and white of every picture."""
    return float(data.test.x.min()), float(data.test.x.max())


@torch.no_grad()
def save_code_scatter(vae: VAE, data: DataBundle, folder: Path, part: slice = slice(None)) -> Path:
    """``latent.png``: posterior means of the test set (``part`` of the code), coloured by the first label column."""
    test = data.test
    z = torch.cat([vae.encode(x)[0][:, part] for x in test.x.split(ENCODE_CHUNK)])
    labels = None if test.labels is None else test.labels.reshape(len(test), -1)[:, 0]
    return save_latent_scatter(z, labels, folder / "latent.png")


@torch.no_grad()
def write_vae_pictures(
    vae: VAE, data: DataBundle, history: list[dict[str, float]], folder: Path, n_examples: int = 64
) -> list[Path]:
    """Write samples, reconstructions, the training curve and latent-space pictures into ``folder``.

    The manifold grid is drawn for image data with ``z_dim == 2``; the latent
    scatter for any ``z_dim`` (principal components above 2).
    """
    written = write_common_pictures(vae, data, history, folder, "samples E[x | z], z ~ p(z)", n_examples)
    written += save_manifold_picture(vae, data, folder)
    written.append(save_code_scatter(vae, data, folder))
    return written


def save_manifold_picture(vae: VAE, data: DataBundle, folder: Path) -> list[Path]:
    """``manifold.png``, the decoded grid of the prior's quantiles, for image data with a 2-D code (else none)."""
    if vae.z_dim != 2 or not data.is_image:
        return []
    grid = latent_grid(vae.sample_prior(GRID_DRAWS), GRID_SIZE)
    return [save_manifold(vae.decode(grid), GRID_SIZE, folder / "manifold.png", value_range(data))]
