"""Distributions of latent codes that Pyro lacks in the shape pyro-vae needs."""

from pyro_vae.distributions.bernoulli_code import BernoulliCode, RelaxedBernoulliCode

__all__ = ["BernoulliCode", "RelaxedBernoulliCode"]
