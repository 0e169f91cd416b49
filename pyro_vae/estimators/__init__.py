"""ELBO estimators, looked up by name in :data:`ESTIMATORS`.

Each entry is a factory returning a :class:`pyro.infer.ELBO`; calling that on
``(model, guide)`` gives a :class:`torch.nn.Module` whose forward is the loss
(summed over the batch): ``-bound`` in value, the estimator in gradient.

Pyro's own: ``trace``, ``meanfield``, ``graph`` (with baselines), ``enum``
(every enumerable site summed), ``jit_trace``, ``jit_meanfield``. For binary
latents also ``relaxed`` (Concrete relaxation).
Per-example multi-sample estimators written here: ``iwae``, ``renyi``,
``dreg``, ``stl``, ``tail_adaptive``.
"""

from pyro_vae.estimators._direct import (
    direct_applies,
    direct_log_weights,
    posterior_log_weights,
    prior_distributions,
)
from pyro_vae.estimators._particles import (
    ParticleELBO,
    Particles,
    detached,
    draw_particles,
    latent_and_observed_sites,
    log_density,
)
from pyro_vae.estimators._registry import ESTIMATORS
from pyro_vae.estimators._state import StatefulEstimator, estimator_state, load_estimator_state
from pyro_vae.estimators.dreg import DReG_ELBO
from pyro_vae.estimators.enumerate import EnumerateAll_ELBO, enum_elbo
from pyro_vae.estimators.graph import BaselinedTraceGraph_ELBO, graph_elbo
from pyro_vae.estimators.jit import ScopedJit
from pyro_vae.estimators.particle_elbos import dreg, iwae, renyi, stl, tail_adaptive
from pyro_vae.estimators.pyro_elbos import DifferentiableTraceGraph_ELBO, meanfield_elbo, trace_elbo
from pyro_vae.estimators.relaxed import Relaxed_ELBO, relaxed_elbo
from pyro_vae.estimators.renyi import RenyiBound
from pyro_vae.estimators.stl import StickingTheLanding_ELBO
from pyro_vae.estimators.tail_adaptive import TailAdaptive_ELBO

__all__ = [
    "ESTIMATORS",
    "BaselinedTraceGraph_ELBO",
    "DReG_ELBO",
    "DifferentiableTraceGraph_ELBO",
    "EnumerateAll_ELBO",
    "ParticleELBO",
    "Particles",
    "Relaxed_ELBO",
    "RenyiBound",
    "ScopedJit",
    "StatefulEstimator",
    "StickingTheLanding_ELBO",
    "TailAdaptive_ELBO",
    "detached",
    "direct_applies",
    "direct_log_weights",
    "draw_particles",
    "dreg",
    "enum_elbo",
    "estimator_state",
    "graph_elbo",
    "iwae",
    "latent_and_observed_sites",
    "load_estimator_state",
    "log_density",
    "meanfield_elbo",
    "posterior_log_weights",
    "prior_distributions",
    "relaxed_elbo",
    "renyi",
    "stl",
    "tail_adaptive",
    "trace_elbo",
]
