"""Distributions of latent codes that Pyro lacks in the shape pyro-vae needs."""

from pyro_vae.distributions.bernoulli_code import BernoulliCode, RelaxedBernoulliCode
from pyro_vae.distributions.diagonal_normal import DiagonalNormal, StandardNormal, standard_normal_log_prob
from pyro_vae.distributions.independent_bernoulli import IndependentBernoulli, bernoulli_log_prob
from pyro_vae.distributions.normal_mixture import DiagonalNormalMixture

__all__ = [
    "BernoulliCode",
    "DiagonalNormal",
    "DiagonalNormalMixture",
    "IndependentBernoulli",
    "RelaxedBernoulliCode",
    "StandardNormal",
    "bernoulli_log_prob",
    "standard_normal_log_prob",
]
