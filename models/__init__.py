"""Pyro model programs ``p(x, z)``; installed as :mod:`pyro_vae.models`."""

from pyro_vae.models.vae import VAEModel

__all__ = ["VAEModel"]
