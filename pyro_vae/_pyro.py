"""Where pyro-vae meets Pyro's global state."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import pyro
from pyro.poutine.util import site_is_subsample

__all__ = ["is_latent_sample", "local_params"]


def local_params() -> AbstractContextManager[None]:
    """Keep PyroModule parameters inside their modules, out of Pyro's global param store.

    pyro-vae optimises ``elbo.parameters()`` with ``torch.optim``, so it needs
    no global store; keeping parameters local lets several VAEs live in one
    process without their same-named parameters (``prior.loc``) being shared.
    Modules must be built and called under this setting.
    """
    return pyro.settings.context(module_local_params=True)


def is_latent_sample(msg: dict[str, Any]) -> bool:
    """Whether a Pyro message is a latent sample site (not a param, observation, factor or plate subsample)."""
    return msg["type"] == "sample" and not msg["is_observed"] and not site_is_subsample(msg)
