"""Pictures: plain functions of the tensors and figures handed to them.

Nothing here knows a model: each model kind computes what it shows (samples,
reconstructions, decoded grids) and calls these (:mod:`pyro_vae.vae_pictures`,
:mod:`pyro_vae.ss_vae_pictures`).
"""

from pyro_vae.plots.curves import save_training_curve
from pyro_vae.plots.images import save_image_grid, save_image_table, save_reconstructions, tile
from pyro_vae.plots.latent import latent_grid, save_latent_scatter, save_manifold

__all__ = [
    "latent_grid",
    "save_image_grid",
    "save_image_table",
    "save_latent_scatter",
    "save_manifold",
    "save_reconstructions",
    "save_training_curve",
    "tile",
]
