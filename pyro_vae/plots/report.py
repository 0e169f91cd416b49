"""All pictures of a fitted run, written into its directory."""

from __future__ import annotations

from pathlib import Path

import torch

from pyro_vae.data import DataBundle
from pyro_vae.plots.curves import save_training_curve
from pyro_vae.plots.images import save_image_grid, save_reconstructions
from pyro_vae.plots.latent import save_latent_scatter, save_manifold
from pyro_vae.vae import VAE

__all__ = ["write_pictures"]


def write_pictures(
    vae: VAE, data: DataBundle, history: list[dict[str, float]], folder: Path, n_examples: int = 64
) -> list[Path]:
    """Write samples, reconstructions, the training curve and latent-space pictures into ``folder``.

    The manifold grid is drawn for image data with ``z_dim == 2``; the latent
    scatter for any ``z_dim`` (principal components above 2).
    """
    test = data.test
    lo, hi = float(test.x.min()), float(test.x.max())
    originals = test.x[:n_examples]
    with torch.no_grad():
        written = [
            save_image_grid(vae.sample(n_examples), folder / "samples.png", "samples E[x | z], z ~ p(z)", (lo, hi)),
            save_reconstructions(originals, vae.reconstruct(originals), folder / "reconstructions.png", (lo, hi)),
        ]
        if history:
            written.append(save_training_curve(history, folder / "training_curve.png"))
        if vae.z_dim == 2 and data.is_image:
            written.append(save_manifold(vae, folder / "manifold.png", (lo, hi)))
        z = torch.cat([vae.encode(x)[0] for x in test.x.split(1000)])
        written.append(save_latent_scatter(z, test.labels, folder / "latent.png"))
    return written
