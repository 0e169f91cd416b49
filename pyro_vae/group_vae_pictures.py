"""The pictures of a fitted group VAE: samples, reconstructions, the swap grid, content codes by group label."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from pyro_vae.plots import (
    save_image_grid,
    save_image_table,
    save_latent_scatter,
    save_reconstructions,
    save_training_curve,
)

if TYPE_CHECKING:
    from pyro_vae.data import DataBundle
    from pyro_vae.group_vae import GroupVAE

__all__ = ["swap_grid", "write_group_pictures"]

#: rows and columns of the swap grid
SWAPS = 8
#: test examples encoded per forward pass for the latent scatter
ENCODE_CHUNK = 1000


@torch.no_grad()
def swap_grid(vae: GroupVAE, images: torch.Tensor) -> torch.Tensor:
    """The swap grid as one table ``((n + 1) * (n + 1), *event_shape)``.

    Row ``i`` decodes the content of image ``i`` with the style of every
    column's image; the first row shows the style images, the first column the
    content images, and the corner is blank.
    """
    n = len(images)
    swapped = vae.swap(images, images)  # (n, n, *event)
    corner = torch.zeros_like(images[:1])
    top = torch.cat([corner, images])
    rows = [torch.cat([images[i : i + 1], swapped[i]]) for i in range(n)]
    return torch.cat([top, *rows])


@torch.no_grad()
def write_group_pictures(
    vae: GroupVAE, data: DataBundle, history: list[dict[str, float]], folder: Path, n_examples: int = 64
) -> list[Path]:
    """Samples, reconstructions, the training curve, the swap grid (images) and ``s`` coloured by the group label."""
    test = data.test
    value_range = (float(test.x.min()), float(test.x.max()))
    originals = test.x[:n_examples]
    written = [
        save_image_grid(
            vae.sample(n_examples), folder / "samples.png", "samples E[x | s, z], s ~ p(s), z ~ p(z)", value_range
        ),
        save_reconstructions(originals, vae.reconstruct(originals), folder / "reconstructions.png", value_range),
    ]
    if history:
        written.append(save_training_curve(history, folder / "training_curve.png"))
    if data.is_image:
        n = min(SWAPS, len(test))
        title = "swaps: content s of each row's image (left), style z of each column's image (top)"
        written.append(save_image_table(swap_grid(vae, test.x[:n]), n + 1, folder / "swaps.png", value_range, title))
    s = torch.cat([vae.split_code(vae.encode(x)[0])[0] for x in test.x.split(ENCODE_CHUNK)])
    labels = None if test.labels is None else test.labels.reshape(len(test), -1)[:, 0]
    written.append(save_latent_scatter(s, labels, folder / "latent.png"))
    return written
