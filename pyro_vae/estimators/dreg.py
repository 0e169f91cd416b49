"""Doubly reparameterized gradients for the IWAE bound, DReG (Tucker, Lawson, Gu & Maddison 2018).

For the IWAE bound with ``K`` draws and normalised weights
``wt_k = w_k / sum_j w_j``, the standard reparameterised gradient for the
guide parameters ``phi`` contains score terms whose signal-to-noise ratio
falls as ``K`` grows (Rainforth et al. 2018). Applying the
reparameterisation trick a second time replaces them by path terms::

    grad_phi = sum_k wt_k^2 * d log w_k / d z_k * d z_k / d phi      (log q with stop(phi))
    grad_theta = sum_k wt_k * grad_theta log p(x, z_k)                (as for IWAE)

Both are unbiased for the IWAE bound's gradient. The surrogate below gets
them from one model pass: with ``g_p = d log p / dz`` and
``g_w = d (log p - log q_stop) / dz`` taken by autograd,

    surrogate = sum_k stop(wt_k) log p(x, z_k) + stop(wt_k^2 g_w - wt_k g_p) . z_k

whose ``theta`` gradient is the first line's and whose ``phi`` gradient
(through ``z_k`` only) is ``sum_k wt_k^2 g_w dz/dphi``. Guide sites whose
parameters depend on other latent sites are not supported.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pyro_vae.estimators._particles import ParticleELBO, Particles, latent_and_observed_sites, log_density
from pyro_vae.estimators.renyi import RenyiBound

__all__ = ["DReG_ELBO"]


class DReG_ELBO(ParticleELBO):  # noqa: N801 (named like Pyro's Trace_ELBO)
    """The per-example IWAE bound with ``K = num_particles``, trained with DReG gradients.

    Parameters
    ----------
    num_particles
        ``K``, draws per example.
    max_plate_nesting
        Must be 1: the model's data plate.
    """

    name = "dreg"

    def __init__(self, num_particles: int = 5, max_plate_nesting: int = 1) -> None:
        super().__init__(num_particles=num_particles, max_plate_nesting=max_plate_nesting)
        self._iwae = RenyiBound(alpha=0.0, num_particles=num_particles, max_plate_nesting=max_plate_nesting)

    def surrogate(self, particles: Particles) -> tuple[Tensor, Tensor]:
        shape = particles.shape
        sites = [s for s in latent_and_observed_sites(particles.guide_trace) if not s["is_observed"]]
        z = [site["value"] for site in sites]
        log_p = log_density(particles.model_trace, shape)
        log_q_stop = log_density(particles.guide_trace, shape, stop_gradient_params=True)
        g_p = torch.autograd.grad(log_p.sum(), z, retain_graph=True, allow_unused=True)
        g_q = torch.autograd.grad(log_q_stop.sum(), z, retain_graph=True, allow_unused=True)
        wt = torch.softmax(particles.log_w.detach(), dim=0)
        surrogate = (wt * log_p).sum()
        for value, dp, dq in zip(z, g_p, g_q, strict=True):
            dp = torch.zeros_like(value) if dp is None else dp
            dq = torch.zeros_like(value) if dq is None else dq
            w = wt.reshape(wt.shape + (1,) * (value.dim() - wt.dim()))
            surrogate = surrogate + ((w**2 * (dp - dq) - w * dp).detach() * value).sum()
        return self._iwae.per_example(particles.log_w).sum(), surrogate
