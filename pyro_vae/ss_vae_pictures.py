"""The pictures of a fitted semi-supervised VAE: analogies, conditional samples, z coloured by class."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from pyro_vae._device import module_device
from pyro_vae.plots import save_image_table, save_latent_scatter
from pyro_vae.vae_pictures import value_range, write_common_pictures

if TYPE_CHECKING:
    from pyro_vae.data import DataBundle
    from pyro_vae.ss_vae import SSVAE

__all__ = ["analogies", "conditional_samples", "write_ss_pictures"]

#: test examples encoded per forward pass for the latent scatter
ENCODE_CHUNK = 1000


def _with_class(y: Tensor, factor: int, value: int) -> Tensor:
    """``y`` ``(n, K)`` with factor ``factor`` set to ``value`` for every row."""
    y = y.clone()
    y[:, factor] = value
    return y


@torch.no_grad()
def analogies(vae: SSVAE, x: Tensor, factor: int = 0) -> Tensor:
    """One row per image of ``x``: the image, then its style ``z`` decoded with every class of ``factor``.

    Returns ``(N * (1 + C), *event_shape)``, rows side by side (``C`` classes).
    """
    y = vae.predict(x)
    z = vae.encode(x, y)[0]
    columns = [vae.decode(z, _with_class(y, factor, c)) for c in range(vae.classes[factor])]
    return torch.stack([x, *columns], dim=1).flatten(0, 1)


@torch.no_grad()
def conditional_samples(vae: SSVAE, per_class: int = 10, factor: int = 0) -> Tensor:
    """One row per class of ``factor``: ``E[x | z, y]`` for ``per_class`` draws ``z ~ p(z)`` shared by all rows.

    Returns ``(C * per_class, *event_shape)``.
    """
    z = vae.sample_prior(per_class)
    base = torch.stack([torch.randint(c, (1,), device=module_device(vae)).expand(per_class) for c in vae.classes], -1)
    return torch.cat([vae.decode(z, _with_class(base, factor, c)) for c in range(vae.classes[factor])])


@torch.no_grad()
def write_ss_pictures(
    vae: SSVAE, data: DataBundle, history: list[dict[str, float]], folder: Path, n_examples: int = 64
) -> list[Path]:
    """Samples, reconstructions, training curve and latent scatter coloured by class.

    For image data also analogies and class-conditional samples.
    """
    title = "samples E[x | z, y], z ~ p(z), y ~ p(y)"
    written = write_common_pictures(vae, data, history, folder, title, n_examples)
    test, bounds = data.test, value_range(data)
    if data.is_image:
        name, classes = vae.factors[0], vae.classes[0]
        title = f"analogies: each test image (left), its style z with every {name}"
        written.append(
            save_image_table(analogies(vae, test.x[:10]), 1 + classes, folder / "analogies.png", bounds, title)
        )
        title = f"samples conditioned on {name} (rows), same z along each column"
        written.append(
            save_image_table(conditional_samples(vae), 10, folder / "conditional_samples.png", bounds, title)
        )
    chunks = zip(test.x.split(ENCODE_CHUNK), test.labels.split(ENCODE_CHUNK), strict=True)
    z = torch.cat([vae.encode(x, y)[0] for x, y in chunks])
    labels = test.labels.reshape(len(test), -1)[:, 0]
    written.append(save_latent_scatter(z, labels, folder / "latent.png"))
    return written
