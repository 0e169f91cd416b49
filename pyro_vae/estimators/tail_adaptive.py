"""Tail-adaptive f-divergence (Wang, Liu & Liu 2018), per example.

With ``K`` draws per example, each particle's gradient ``grad log w_k`` is
weighted by ``gamma_k = rank_k^beta`` (``rank`` 1 for the smallest weight),
normalised over the particles of that example; ``beta < 0`` (default -1)
gives the mass-covering behaviour of the paper. The objective itself has no
closed value, so the reported value is the ELBO estimate ``mean_k log w_k``.
:class:`pyro.infer.TraceTailAdaptive_ELBO` ranks whole mini-batches; here each
example ranks its own particles.
"""

from __future__ import annotations

import math

from torch import Tensor

from pyro_vae.errors import ConfigError
from pyro_vae.estimators._particles import ParticleELBO, Particles

__all__ = ["TailAdaptive_ELBO"]


class TailAdaptive_ELBO(ParticleELBO):  # noqa: N801 (named like Pyro's Trace_ELBO)
    """Tail-adaptive gradient with ``K = num_particles`` draws per example.

    Parameters
    ----------
    beta
        Exponent of the rank weights.
    num_particles
        ``K``, draws per example.
    max_plate_nesting
        Must be 1: the model's data plate.
    """

    name = "tail_adaptive"

    def __init__(self, beta: float = -1.0, num_particles: int = 5, max_plate_nesting: int = 1) -> None:
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta):
            raise ConfigError(f"estimator 'tail_adaptive': beta must be a finite number, got {beta!r}")
        super().__init__(num_particles=num_particles, max_plate_nesting=max_plate_nesting)
        self.beta = float(beta)

    def surrogate(self, particles: Particles) -> tuple[Tensor, Tensor]:
        log_w = particles.log_w
        ranks = log_w.detach().argsort(dim=0).argsort(dim=0).to(log_w.dtype) + 1.0
        gamma = ranks**self.beta
        gamma = gamma / gamma.sum(0, keepdim=True)
        return log_w.mean(0).sum(), (gamma * log_w).sum()
