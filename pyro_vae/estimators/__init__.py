"""ELBO estimators, looked up by name in :data:`ESTIMATORS`.

Each entry is a factory returning a :class:`pyro.infer.ELBO`; calling that on
``(model, guide)`` gives a :class:`torch.nn.Module` whose forward is the loss.
"""

from pyro_vae.estimators._registry import ESTIMATORS
from pyro_vae.estimators.pyro_elbos import meanfield_elbo, trace_elbo

__all__ = ["ESTIMATORS", "meanfield_elbo", "trace_elbo"]
