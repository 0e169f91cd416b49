"""Likelihoods ``p(x|z)``, looked up by name in :data:`LIKELIHOODS`.

A likelihood says how many decoder outputs it needs per data dimension
(:attr:`Likelihood.params_per_dim`), turns decoder outputs into the distribution
of ``x``, and checks before training that the data lies in its support.
"""

from pyro_vae.likelihoods._base import LIKELIHOODS, Likelihood, value_range
from pyro_vae.likelihoods.bernoulli import BernoulliLikelihood
from pyro_vae.likelihoods.categorical256 import Categorical256Likelihood
from pyro_vae.likelihoods.continuous_bernoulli import ContinuousBernoulliLikelihood
from pyro_vae.likelihoods.location_scale import LaplaceLikelihood, NormalLikelihood
from pyro_vae.likelihoods.poisson import PoissonLikelihood

__all__ = [
    "LIKELIHOODS",
    "BernoulliLikelihood",
    "Categorical256Likelihood",
    "ContinuousBernoulliLikelihood",
    "LaplaceLikelihood",
    "Likelihood",
    "NormalLikelihood",
    "PoissonLikelihood",
    "value_range",
]
