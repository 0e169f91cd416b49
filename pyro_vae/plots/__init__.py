"""Pictures: samples, reconstructions, training curves, latent manifolds and scatters."""

from pyro_vae.plots.curves import save_training_curve
from pyro_vae.plots.images import save_image_grid, save_reconstructions, tile
from pyro_vae.plots.latent import latent_grid, save_latent_scatter, save_manifold
from pyro_vae.plots.report import write_pictures

__all__ = [
    "latent_grid",
    "save_image_grid",
    "save_latent_scatter",
    "save_manifold",
    "save_reconstructions",
    "save_training_curve",
    "tile",
    "write_pictures",
]
