"""Sticking the landing (Roeder, Wu & Duvenaud 2017).

The reparameterised ELBO gradient has two parts: the path through the sample
``z = z(phi, eps)`` and the score term ``-d/dphi log q_phi(z)`` at fixed ``z``,
whose expectation is zero. STL drops the score term by evaluating
``log q`` with stop-gradient parameters::

    surrogate = log p(x, z(phi, eps)) - log q_{stop(phi)}(z(phi, eps))

Its value is the usual ELBO estimate and its gradient is an unbiased
estimator of the ELBO gradient whose variance vanishes when ``q`` equals the
exact posterior. Guide sites whose parameters depend on other latent sites
are not supported (their dependence on those latents would be cut too).
"""

from __future__ import annotations

from torch import Tensor

from pyro_vae.estimators._particles import ParticleELBO, Particles, log_density

__all__ = ["StickingTheLanding_ELBO"]


class StickingTheLanding_ELBO(ParticleELBO):  # noqa: N801 (named like Pyro's Trace_ELBO)
    """ELBO with the sticking-the-landing gradient, averaged over ``num_particles`` draws per example.

    Parameters
    ----------
    num_particles
        Draws per example.
    max_plate_nesting
        Must be 1: the model's data plate.
    """

    name = "stl"

    def surrogate(self, particles: Particles) -> tuple[Tensor, Tensor]:
        shape = particles.shape
        path_only = log_density(particles.model_trace, shape) - log_density(
            particles.guide_trace, shape, stop_gradient_params=True
        )
        bound = particles.log_w.mean(0).sum()
        return bound, path_only.mean(0).sum()
