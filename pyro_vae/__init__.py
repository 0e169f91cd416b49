"""pyro-vae: variational autoencoders as Pyro programs.

Fit one in a line::

    import pyro_vae
    result = pyro_vae.fit(prior="mixture", likelihood="bernoulli", epochs=20, out="runs/digits")

The model ``p(x|z) p(z)`` and the guide ``q(z|x)`` are separate Pyro programs
(:mod:`pyro_vae.models`, :mod:`pyro_vae.guides`); priors, likelihoods,
networks and ELBO estimators are chosen by name from registries.

The names below are imported on first use (PEP 562), so ``import pyro_vae.config``
and the command line load only the layers they need (see the README's "Layout").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyro_vae.api import FitResult, diagnose, evaluate, fit, load_run, resume, sample
    from pyro_vae.comparison import compare
    from pyro_vae.config import RunConfig, resolve_config
    from pyro_vae.errors import ConfigError, DataError, InputNotice, PyroVAEError, RunDirError, TrainingError
    from pyro_vae.estimators import ESTIMATORS
    from pyro_vae.kinds import MODEL_KINDS
    from pyro_vae.likelihoods import LIKELIHOODS
    from pyro_vae.networks import NETWORKS, using_network
    from pyro_vae.priors import PRIORS
    from pyro_vae.scoring import encode, score
    from pyro_vae.vae import VAE, build_vae

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "ESTIMATORS": "pyro_vae.estimators",
    "LIKELIHOODS": "pyro_vae.likelihoods",
    "MODEL_KINDS": "pyro_vae.kinds",
    "NETWORKS": "pyro_vae.networks",
    "PRIORS": "pyro_vae.priors",
    "VAE": "pyro_vae.vae",
    "ConfigError": "pyro_vae.errors",
    "DataError": "pyro_vae.errors",
    "FitResult": "pyro_vae.api",
    "InputNotice": "pyro_vae.errors",
    "PyroVAEError": "pyro_vae.errors",
    "RunConfig": "pyro_vae.config",
    "RunDirError": "pyro_vae.errors",
    "TrainingError": "pyro_vae.errors",
    "build_vae": "pyro_vae.vae",
    "compare": "pyro_vae.comparison",
    "diagnose": "pyro_vae.api",
    "encode": "pyro_vae.scoring",
    "evaluate": "pyro_vae.api",
    "fit": "pyro_vae.api",
    "load_run": "pyro_vae.api",
    "resolve_config": "pyro_vae.config",
    "resume": "pyro_vae.api",
    "sample": "pyro_vae.api",
    "score": "pyro_vae.scoring",
    "using_network": "pyro_vae.networks",
}

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
    "InputNotice",
    "PyroVAEError",
    "RunConfig",
    "RunDirError",
    "TrainingError",
    "build_vae",
    "compare",
    "diagnose",
    "encode",
    "evaluate",
    "fit",
    "load_run",
    "resolve_config",
    "resume",
    "sample",
    "score",
    "using_network",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pyro_vae' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
