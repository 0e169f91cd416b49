"""Priors ``p(z)`` over the latent code, looked up by name in :data:`PRIORS`.

Each prior is a small :class:`~pyro.nn.PyroModule` whose call returns the
distribution of one latent vector: event shape ``(z_dim,)``, batch shape ``()``
(the model's data plate broadcasts it over the batch).
"""

from pyro_vae.priors._registry import PRIORS, Prior
from pyro_vae.priors.bernoulli import BernoulliPrior
from pyro_vae.priors.gaussian import LearnedNormalPrior, StandardNormalPrior
from pyro_vae.priors.laplace import LaplacePrior
from pyro_vae.priors.mixture import MixturePrior
from pyro_vae.priors.vamp import VampPrior

__all__ = [
    "PRIORS",
    "BernoulliPrior",
    "LaplacePrior",
    "LearnedNormalPrior",
    "MixturePrior",
    "Prior",
    "StandardNormalPrior",
    "VampPrior",
]
