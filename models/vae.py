"""The VAE generative model as a Pyro program."""

from __future__ import annotations

import pyro
from pyro import poutine
from pyro.nn import PyroModule
from torch import Tensor, nn

from pyro_vae.likelihoods import Likelihood
from pyro_vae.priors import Prior

__all__ = ["VAEModel"]


class VAEModel(PyroModule):
    """Generative model of a variational autoencoder.

    Generative story, for each data point ``n`` in the ``data`` plate::

        z_n ~ p(z)                      (site "z", the prior, e.g. N(0, I))
        x_n ~ p(x | g(z_n))             (site "x", observed; g is the decoder)

    so ``p(x, z) = p(x | z) p(z)``.

    Parameters
    ----------
    prior
        The prior ``p(z)`` (see :data:`pyro_vae.priors.PRIORS`).
    decoder
        Network ``g`` mapping ``z`` of shape ``(..., z_dim)`` to likelihood
        parameters of shape ``(..., params_per_dim, *event_shape)``.
    likelihood
        The likelihood ``p(x | g(z))`` (see :data:`pyro_vae.likelihoods.LIKELIHOODS`).
    """

    def __init__(self, prior: Prior, decoder: nn.Module, likelihood: Likelihood) -> None:
        super().__init__()
        self.prior = prior
        self.decoder = decoder
        self.likelihood = likelihood

    def forward(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> Tensor:
        """Run the model on a batch ``x`` of shape ``(B, *event_shape)``.

        Parameters
        ----------
        x
            Observed data.
        y
            Labels; unused by this model (accepted so every model and guide
            share one signature).
        kl_weight
            Scale of the latent site's log-density (KL annealing); the guide
            must receive the same value.

        Returns
        -------
        Tensor
            The latent sample ``z`` of shape ``(..., B, z_dim)``.
        """
        with pyro.plate("data", x.shape[0], dim=-1):
            with poutine.scale(scale=kl_weight):
                z = pyro.sample("z", self.prior())
            pyro.sample("x", self.likelihood.distribution(self.decoder(z)), obs=x)
        return z
