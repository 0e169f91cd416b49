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

__all__ = ["write_vae_pictures"]

#: prior draws from which the manifold grid's quantiles are estimated
GRID_DRAWS = 20_000
#: rows (and columns) of the manifold grid
GRID_SIZE = 20
#: test examples encoded per forward pass for the latent scatter
ENCODE_CHUNK = 1000


@torch.no_grad()
def write_vae_pictures(
    vae: VAE, data: DataBundle, history: list[dict[str, float]], folder: Path, n_examples: int = 64
) -> list[Path]:
    """Write samples, reconstructions, the training curve and latent-space pictures into ``folder``.

    The manifold grid is drawn for image data with ``z_dim == 2``; the latent
    scatter for any ``z_dim`` (principal components above 2).
    """
    test = data.test
    value_range = (float(test.x.min()), float(test.x.max()))
    originals = test.x[:n_examples]
    written = [
        save_image_grid(vae.sample(n_examples), folder / "samples.png", "samples E[x | z], z ~ p(z)", value_range),
        save_reconstructions(originals, vae.reconstruct(originals), folder / "reconstructions.png", value_range),
    ]
    if history:
        written.append(save_training_curve(history, folder / "training_curve.png"))
    if vae.z_dim == 2 and data.is_image:
        grid = latent_grid(vae.sample_prior(GRID_DRAWS), GRID_SIZE)
        written.append(save_manifold(vae.decode(grid), GRID_SIZE, folder / "manifold.png", value_range))
    z = torch.cat([vae.encode(x)[0] for x in test.x.split(ENCODE_CHUNK)])
    labels = None if test.labels is None else test.labels.reshape(len(test), -1)[:, 0]  # coloured by the first
    written.append(save_latent_scatter(z, labels, folder / "latent.png"))
    return written
