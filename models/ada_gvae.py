"""The Ada-GVAE's generative model as a Pyro program: a plain VAE applied to each member of a pair."""

from __future__ import annotations

import pyro
from pyro import poutine
from pyro.nn import PyroModule
from pyro_vae.models.vae import VAEModel
from torch import Tensor, nn

from pyro_vae.likelihoods import Likelihood
from pyro_vae.priors import Prior

__all__ = ["PairVAEModel"]


class PairVAEModel(PyroModule):
    """The generative model of Ada-GVAE (Locatello et al. 2020): each member of a pair drawn on its own.

    For each pair ``g`` in the ``groups`` plate and each member ``i`` in the nested ``members`` plate::

        z_gi ~ p(z)                  (site "z")
        x_gi ~ p(x | h(z_gi))        (site "x", observed; h is the decoder)

    The members share nothing in the model: that they share some factors is
    what the guide assumes (:class:`~pyro_vae.guides.ada_gvae.AdaptivePairGuide`).

    Parameters
    ----------
    member
        The plain VAE model of one example, whose prior, decoder and likelihood
        this program runs (and which scores single examples in evaluation).
    """

    def __init__(self, member: VAEModel) -> None:
        super().__init__()
        self.member = member

    @property
    def prior(self) -> Prior:
        return self.member.prior

    @property
    def decoder(self) -> nn.Module:
        return self.member.decoder

    @property
    def likelihood(self) -> Likelihood:
        return self.member.likelihood

    def priors(self) -> dict[str, Prior]:
        return self.member.priors()

    def forward(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> Tensor:
        """Run on pairs ``x`` ``(B, 2, *event_shape)`` (any group size works); returns ``z`` ``(..., B, G, z_dim)``."""
        with pyro.plate("groups", x.shape[0], dim=-2), pyro.plate("members", x.shape[1], dim=-1):
            with poutine.scale(scale=kl_weight):
                z = pyro.sample("z", self.member.prior())
            pyro.sample("x", self.member.likelihood.distribution(self.member.decoder(z)), obs=x)
        return z
