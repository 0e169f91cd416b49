"""Pyro guide programs ``q(z | x)``; installed as :mod:`pyro_vae.guides`."""

from pyro_vae.guides.posteriors import POSTERIOR_FAMILIES, BernoulliPosterior, NormalPosterior, PosteriorFamily
from pyro_vae.guides.vae import VAEGuide

__all__ = ["POSTERIOR_FAMILIES", "BernoulliPosterior", "NormalPosterior", "PosteriorFamily", "VAEGuide"]
