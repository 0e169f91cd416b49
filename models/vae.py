"""The VAE generative model as a Pyro program."""

from __future__ import annotations

import pyro
from pyro import poutine
from pyro.nn import PyroModule
from torch import Tensor, nn

from pyro_vae.label_groups import concat_broadcast
from pyro_vae.likelihoods import Likelihood
from pyro_vae.priors import Prior

__all__ = ["VAEModel"]


class VAEModel(PyroModule):
    """Generative model of a variational autoencoder.

    Generative story, for each data point ``n`` in the ``data`` plate::

        z_n ~ p(z)                      (site "z", the prior, e.g. N(0, I) or Bernoulli bits)
        b_n ~ p(b)                      (site "bits", only in a mixed model: a binary block beside z)
        x_n ~ p(x | g([z_n, b_n]))      (site "x", observed; g is the decoder)

    so ``p(x, z, b) = p(x | z, b) p(z) p(b)``.

    Parameters
    ----------
    prior
        The prior ``p(z)`` (see :data:`pyro_vae.priors.PRIORS`).
    decoder
        Network ``g`` mapping the joined code of shape ``(..., z_dim + bits)``
        to likelihood parameters of shape ``(..., params_per_dim, *event_shape)``.
    likelihood
        The likelihood ``p(x | g(z))`` (see :data:`pyro_vae.likelihoods.LIKELIHOODS`).
    bits_prior
        The prior ``p(b)`` of the binary block of a mixed model, or ``None``.
    """

    def __init__(
        self, prior: Prior, decoder: nn.Module, likelihood: Likelihood, bits_prior: Prior | None = None
    ) -> None:
        super().__init__()
        self.prior = prior
        self.decoder = decoder
        self.likelihood = likelihood
        self.bits_prior = bits_prior

    def priors(self) -> dict[str, Prior]:
        """The prior of every latent site, in the order the decoder reads them."""
        return {"z": self.prior} if self.bits_prior is None else {"z": self.prior, "bits": self.bits_prior}

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
            Scale of the latent sites' log-density (KL annealing); the guide
            must receive the same value.

        Returns
        -------
        Tensor
            The joined latent code of shape ``(..., B, z_dim + bits)``.
        """
        with pyro.plate("data", x.shape[0], dim=-1):
            with poutine.scale(scale=kl_weight):
                code = concat_broadcast([pyro.sample(name, prior()) for name, prior in self.priors().items()])
            pyro.sample("x", self.likelihood.distribution(self.decoder(code)), obs=x)
        return code
