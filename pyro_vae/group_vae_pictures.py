"""The pictures of a fitted group VAE: samples, reconstructions, the swap grid, content codes by group label."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from pyro_vae.plots import save_image_table
from pyro_vae.vae_pictures import save_code_scatter, save_manifold_picture, value_range, write_common_pictures

if TYPE_CHECKING:
    from pyro_vae.data import DataBundle
    from pyro_vae.group_vae import GroupVAE
    from pyro_vae.vae import VAE

__all__ = ["swap_grid", "traversals", "write_group_pictures", "write_pair_pictures"]

#: rows and columns of the swap grid
SWAPS = 8
#: steps of each latent traversal, and the prior draws its range is read from
TRAVERSAL_STEPS = 9
TRAVERSAL_DRAWS = 5000


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
    title = "samples E[x | s, z], s ~ p(s), z ~ p(z)"
    written = write_common_pictures(vae, data, history, folder, title, n_examples)
    if data.is_image:
        n = min(SWAPS, len(data.test))
        title = "swaps: content s of each row's image (left), style z of each column's image (top)"
        grid = swap_grid(vae, data.test.x[:n])
        written.append(save_image_table(grid, n + 1, folder / "swaps.png", value_range(data), title))
    written += save_traversals(vae, data, folder) + save_manifold_picture(vae, data, folder)
    written.append(save_code_scatter(vae, data, folder, slice(0, vae.s_dim)))
    return written


@torch.no_grad()
def traversals(vae: VAE, x: torch.Tensor, steps: int = TRAVERSAL_STEPS) -> torch.Tensor:
    """One row per latent dimension: the code of ``x`` (one example) with that dimension swept.

    The sweep runs over the prior's 5%..95% quantiles of the dimension.
    Returns ``(z_dim * steps, *event_shape)``.
    """
    code = vae.encode(x[None])[0][0]
    draws = vae.sample_prior(TRAVERSAL_DRAWS)
    levels = torch.quantile(draws, torch.linspace(0.05, 0.95, steps, dtype=draws.dtype), dim=0)  # (steps, d)
    codes = code.repeat(vae.z_dim, steps, 1)  # (d, steps, d)
    for d in range(vae.z_dim):
        codes[d, :, d] = levels[:, d]
    return vae.decode(codes.flatten(0, 1))


@torch.no_grad()
def write_pair_pictures(
    vae: VAE, data: DataBundle, history: list[dict[str, float]], folder: Path, n_examples: int = 64
) -> list[Path]:
    """Samples, reconstructions, the training curve, latent traversals (images) and the codes coloured by label."""
    written = write_common_pictures(vae, data, history, folder, "samples E[x | z], z ~ p(z)", n_examples)
    written += save_traversals(vae, data, folder) + save_manifold_picture(vae, data, folder)
    written.append(save_code_scatter(vae, data, folder))
    return written


def save_traversals(vae: VAE, data: DataBundle, folder: Path) -> list[Path]:
    """``traversals.png`` of the first test image (image data only; see :func:`traversals`)."""
    if not data.is_image:
        return []
    title = "latent traversals: one row per code dimension, the prior's 5%..95% quantiles"
    table = traversals(vae, data.test.x[0])
    return [save_image_table(table, TRAVERSAL_STEPS, folder / "traversals.png", value_range(data), title)]
