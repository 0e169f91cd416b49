"""Trace_ELBO without the tracing, for the common case: a plain VAE with reparameterised latents.

Pyro's ``Trace_ELBO`` runs the guide and the model under trace and replay
handlers and then sums every site's log-density. For the VAE built by
:func:`pyro_vae.build_vae` the single-particle bound is just

    log p(x | z) + w * (log p(z) - log q(z | x)),    z = q.rsample()

(``w`` the KL weight), so :class:`FastTrace_ELBO` computes that directly from
the model's and guide's own distributions: the same random draws, the same
value and gradient up to float rounding (tested against ``Trace_ELBO``), at
hand-written PyTorch cost. Any other case (several particles, discrete
latents, other models or guides, active Pyro handlers) goes through
``Trace_ELBO`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyro.infer import Trace_ELBO
from torch import Tensor

from pyro_vae.estimators._direct import direct_applies, direct_log_weights

__all__ = ["FastTrace_ELBO"]


class FastTrace_ELBO(Trace_ELBO):  # noqa: N801 (named like Pyro's Trace_ELBO)
    """:class:`pyro.infer.Trace_ELBO` with a direct single-particle path for plain reparameterised VAEs."""

    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Tensor:
        if self.num_particles != 1 or not direct_applies(model, guide, args, kwargs):
            return super().differentiable_loss(model, guide, *args, **kwargs)
        return -direct_log_weights(model, guide, args[0], kl_weight=kwargs.get("kl_weight", 1.0)).sum()
