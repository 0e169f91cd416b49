"""pyro-vae: variational autoencoders as Pyro programs.

Fit one in a line::

    import pyro_vae
    result = pyro_vae.fit(prior="mixture", likelihood="bernoulli", epochs=20, out="runs/digits")

The model ``p(x|z) p(z)`` and the guide ``q(z|x)`` are separate Pyro programs
(:mod:`pyro_vae.models`, :mod:`pyro_vae.guides`); priors, likelihoods,
networks and ELBO estimators are chosen by name from registries.
"""

from pyro_vae.api import FitResult, diagnose, evaluate, fit, load_run, resume, sample
from pyro_vae.comparison import compare
from pyro_vae.config import RunConfig, resolve_config
from pyro_vae.errors import ConfigError, DataError, PyroVAEError, RunDirError, TrainingError
from pyro_vae.estimators import ESTIMATORS
from pyro_vae.kinds import MODEL_KINDS
from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.networks import NETWORKS
from pyro_vae.priors import PRIORS
from pyro_vae.vae import VAE, build_vae

__version__ = "0.1.0"

__all__ = [
    "ESTIMATORS",
    "LIKELIHOODS",
    "MODEL_KINDS",
    "NETWORKS",
    "PRIORS",
    "VAE",
    "ConfigError",
    "DataError",
    "FitResult",
    "PyroVAEError",
    "RunConfig",
    "RunDirError",
    "TrainingError",
    "build_vae",
    "compare",
    "diagnose",
    "evaluate",
    "fit",
    "load_run",
    "resolve_config",
    "resume",
    "sample",
]
