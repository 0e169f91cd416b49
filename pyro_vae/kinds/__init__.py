"""Model kinds, looked up by ``[model] kind`` in :data:`MODEL_KINDS`: ``vae`` and ``ss_vae``.

Each kind registers itself in the module that defines its wrapper
(:mod:`pyro_vae.vae`, :mod:`pyro_vae.ss_vae`); importing this package imports them.
"""

from pyro_vae import ss_vae as _ss_vae  # noqa: F401 (registers "ss_vae")
from pyro_vae import vae as _vae  # noqa: F401 (registers "vae")
from pyro_vae.kinds._registry import MODEL_KINDS, DataShape, ModelKind

__all__ = ["MODEL_KINDS", "DataShape", "ModelKind"]
