"""Where pyro-vae meets Pyro's global state."""

from __future__ import annotations

from contextlib import AbstractContextManager

import pyro

__all__ = ["local_params"]


def local_params() -> AbstractContextManager[None]:
    """Keep PyroModule parameters inside their modules, out of Pyro's global param store.

    pyro-vae optimises ``elbo.parameters()`` with ``torch.optim``, so it needs
    no global store; keeping parameters local lets several VAEs live in one
    process without their same-named parameters (``prior.loc``) being shared.
    Modules must be built and called under this setting.
    """
    return pyro.settings.context(module_local_params=True)
