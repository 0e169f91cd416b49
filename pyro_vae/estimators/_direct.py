"""Log-weights of a plain reparameterised VAE computed from its distributions, without Pyro's tracing.

For the VAE built by :func:`pyro_vae.build_vae` with continuous latents, a run
of the guide then the model under trace and replay handlers draws
``z ~ q(z | x)`` and scores ``log p(x | z) + log p(z) - log q(z | x)``. This
module computes the same numbers directly from the model's and guide's own
distributions, or from their closed forms where Pyro's validation is off
(``rsample_and_log_prob``, ``Prior.log_prob``, ``Likelihood.log_prob``): the
same random draws (``K`` particles are one ``rsample((K,))``, as Pyro's
vectorised particle plate draws them), the same values up to float rounding,
without the handler overhead. Anything else (discrete latents, other models or
guides, active Pyro handlers) is left to
the traced path by :func:`direct_applies`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from pyro.poutine.runtime import am_i_wrapped
from torch import Tensor
from torch.distributions import Distribution

from pyro_vae.guides import VAEGuide
from pyro_vae.label_groups import concat_broadcast
from pyro_vae.models import VAEModel

__all__ = ["direct_applies", "direct_log_weights", "posterior_log_weights", "prior_distributions"]


def direct_applies(model: Callable[..., Any], guide: Callable[..., Any], args: tuple, kwargs: dict) -> bool:
    """Whether ``model(*args, **kwargs)`` / ``guide`` is a plain VAE call :func:`direct_log_weights` reproduces."""
    return (
        type(model) is VAEModel
        and type(guide) is VAEGuide
        and len(args) == 1
        and kwargs.get("y") is None
        and set(kwargs) <= {"y", "kl_weight"}
        and not am_i_wrapped()
        and all(prior.guide_family == "normal" for prior in model.priors().values())
    )


def direct_log_weights(
    model: VAEModel, guide: VAEGuide, x: Tensor, num_particles: int | None = None, kl_weight: float = 1.0
) -> Tensor:
    """``log p(x | z) + w * (log p(z) - log q(z | x))`` per particle and example, ``z = q.rsample()``.

    Parameters
    ----------
    model, guide
        A plain VAE (check :func:`direct_applies` first).
    x
        A batch of ``B`` examples.
    num_particles
        ``K`` draws per example (shape ``(K, B)``); ``None``: one draw, shape ``(B,)``.
    kl_weight
        ``w``, the weight of the latent terms (KL warm-up); 1 gives the log importance weight.

    Returns
    -------
    Tensor
        Shape ``(B,)`` or ``(K, B)``, in nats. Each site's draw and ``log q`` come together from its posterior
        family (:meth:`~guides.VAEGuide.rsample_and_log_prob`) and each prior scores its code
        (:meth:`~pyro_vae.priors.Prior.log_prob`), so a closed form skips building the distributions.
    """
    shape = torch.Size() if num_particles is None else torch.Size((num_particles,))
    draws = guide.rsample_and_log_prob(x, shape)
    decoded = model.decoder(concat_broadcast([z for z, _ in draws.values()]))
    log_w = model.likelihood.log_prob(decoded, x)
    for name, prior in model.priors().items():
        z, log_q = draws[name]
        log_w = log_w + kl_weight * (prior.log_prob(z) - log_q)
    return log_w


def posterior_log_weights(
    model: VAEModel,
    posteriors: dict[str, Distribution],
    x: Tensor,
    num_particles: int | None = None,
    kl_weight: float = 1.0,
    priors: dict[str, Distribution] | None = None,
) -> Tensor:
    """:func:`direct_log_weights` given the guide's ``q(z | x)`` per latent site (computed once, drawn often).

    ``priors`` gives ``p(z)`` per site when the caller has built it already (evaluation builds a learned
    prior such as the VampPrior once per batch, not once per chunk of particles); ``None`` builds it here.
    """
    shape = torch.Size() if num_particles is None else torch.Size((num_particles,))
    codes = {name: q.rsample(shape) for name, q in posteriors.items()}
    priors = priors if priors is not None else prior_distributions(model)
    log_w: Tensor | float = 0.0
    for name, prior in priors.items():
        log_w = log_w + kl_weight * prior.log_prob(codes[name])
    decoded = model.decoder(concat_broadcast(list(codes.values())))
    log_w = log_w + model.likelihood.distribution(decoded).log_prob(x)
    for name, q in posteriors.items():
        log_w = log_w - kl_weight * q.log_prob(codes[name])
    return log_w


def prior_distributions(model: VAEModel) -> dict[str, Distribution]:
    """``p(z)`` of every latent site of a plain VAE, by site name."""
    return {name: prior() for name, prior in model.priors().items()}
