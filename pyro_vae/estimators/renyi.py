"""The per-example Renyi bound, with the importance-weighted (IWAE) bound as its ``alpha = 0`` case.

Li & Turner (2016), "Renyi divergence variational inference"; Burda, Grosse &
Salakhutdinov (2016), "Importance weighted autoencoders". For each example,
with ``K`` draws ``z_k ~ q(z | x)`` and weights ``w_k = p(x, z_k) / q(z_k | x)``::

    L_alpha(x) = 1 / (1 - alpha) * log( 1/K * sum_k w_k^(1 - alpha) )

``alpha = 0`` is the IWAE bound ``log(1/K sum_k w_k) <= log p(x)``, tightening as
``K`` grows; ``alpha -> 1`` recovers the ELBO. Unlike :class:`pyro.infer.RenyiELBO`,
which weighs whole mini-batches, the bound here is taken per example, as in
the papers. Its gradient is the reparameterised gradient of the bound.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pyro_vae.errors import ConfigError
from pyro_vae.estimators._particles import ParticleELBO, Particles

__all__ = ["IWAEBound", "RenyiBound"]


class RenyiBound(ParticleELBO):
    """Per-example Renyi (``alpha != 1``) or IWAE (``alpha = 0``) bound with ``K = num_particles``.

    Parameters
    ----------
    alpha
        Order of the Renyi divergence; any real number except 1.
    num_particles
        ``K``, draws per example.
    max_plate_nesting
        Must be 1: the model's data plate.
    """

    name = "renyi"

    def __init__(self, alpha: float = 0.0, num_particles: int = 5, max_plate_nesting: int = 1) -> None:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha == 1 or not math.isfinite(alpha):
            raise ConfigError(
                f"estimator 'renyi': alpha must be a finite number other than 1 (that is the ELBO: "
                f"use 'trace'), got {alpha!r}"
            )
        super().__init__(num_particles=num_particles, max_plate_nesting=max_plate_nesting)
        self.alpha = float(alpha)

    def per_example(self, log_w: Tensor) -> Tensor:
        """``L_alpha`` per example from log-weights of shape ``(K, B)``."""
        scaled = (1.0 - self.alpha) * log_w
        return (torch.logsumexp(scaled, dim=0) - math.log(log_w.shape[0])) / (1.0 - self.alpha)

    def surrogate(self, particles: Particles) -> tuple[Tensor, Tensor]:
        bound = self.per_example(particles.log_w).sum()
        return bound, bound


class IWAEBound(RenyiBound):
    """The importance-weighted bound: :class:`RenyiBound` at ``alpha = 0``, named ``iwae`` in its messages."""

    name = "iwae"

    def __init__(self, num_particles: int = 5, max_plate_nesting: int = 1) -> None:
        super().__init__(alpha=0.0, num_particles=num_particles, max_plate_nesting=max_plate_nesting)
