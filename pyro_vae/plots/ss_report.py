"""Pictures of a semi-supervised VAE: analogies, conditional samples, and z coloured by class."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from pyro_vae.plots._figure import plt, save_figure
from pyro_vae.plots.curves import save_training_curve
from pyro_vae.plots.images import save_image_grid, save_reconstructions, tile
from pyro_vae.plots.latent import save_latent_scatter

if TYPE_CHECKING:
    from pyro_vae.data import DataBundle
    from pyro_vae.ss_vae import SSVAE

__all__ = ["save_analogies", "save_conditional_samples", "write_ss_pictures"]


def _with_class(y: Tensor, factor: int, value: int) -> Tensor:
    """``y`` ``(n, K)`` with factor ``factor`` set to ``value`` for every row."""
    y = y.clone()
    y[:, factor] = value
    return y


def save_analogies(vae: SSVAE, x: Tensor, path: Path, value_range: tuple[float, float], factor: int = 0) -> Path:
    """One row per image: the image, then its style ``z`` decoded with every class of ``factor``."""
    y = vae.predict(x)
    z = vae.encode(x, y)[0]
    columns = [vae.decode(z, _with_class(y, factor, c)) for c in range(vae.classes[factor])]
    grid = torch.stack([x, *columns], dim=1).flatten(0, 1)
    return _save_grid(
        grid,
        1 + len(columns),
        path,
        value_range,
        f"analogies: each test image (left), its style z with every {vae.factors[factor]}",
    )


def save_conditional_samples(
    vae: SSVAE, path: Path, value_range: tuple[float, float], per_class: int = 10, factor: int = 0
) -> Path:
    """One row per class of ``factor``: ``E[x | z, y]`` for ``per_class`` draws ``z ~ p(z)`` shared by all rows."""
    z = vae.sample_prior(per_class)
    base = torch.stack([torch.randint(c, (1,)).expand(per_class) for c in vae.classes], -1)
    rows = [vae.decode(z, _with_class(base, factor, c)) for c in range(vae.classes[factor])]
    return _save_grid(
        torch.cat(rows),
        per_class,
        path,
        value_range,
        f"samples conditioned on {vae.factors[factor]} (rows), same z along each column",
    )


def _save_grid(images: Tensor, ncol: int, path: Path, value_range: tuple[float, float], title: str) -> Path:
    fig, ax = plt.subplots(figsize=(0.6 * ncol + 1, 0.6 * len(images) / ncol + 1))
    ax.imshow(tile(images, ncol, *value_range), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


@torch.no_grad()
def write_ss_pictures(
    vae: SSVAE, data: DataBundle, history: list[dict[str, float]], folder: Path, n_examples: int = 64
) -> list[Path]:
    """Samples, reconstructions, training curve and latent scatter coloured by class.

    For image data also analogies and class-conditional samples.
    """
    test = data.test
    lo, hi = float(test.x.min()), float(test.x.max())
    originals = test.x[:n_examples]
    written = [
        save_image_grid(
            vae.sample(n_examples), folder / "samples.png", "samples E[x | z, y], z ~ p(z), y ~ p(y)", (lo, hi)
        ),
        save_reconstructions(originals, vae.reconstruct(originals), folder / "reconstructions.png", (lo, hi)),
    ]
    if history:
        written.append(save_training_curve(history, folder / "training_curve.png"))
    if data.is_image:
        written.append(save_analogies(vae, test.x[:10], folder / "analogies.png", (lo, hi)))
        written.append(save_conditional_samples(vae, folder / "conditional_samples.png", (lo, hi)))
    z = torch.cat([vae.encode(x, y)[0] for x, y in zip(test.x.split(1000), test.labels.split(1000), strict=True)])
    labels = test.labels.reshape(len(test), -1)[:, 0]
    written.append(save_latent_scatter(z, labels, folder / "latent.png"))
    return written
