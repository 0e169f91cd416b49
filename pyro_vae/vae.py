"""The thin wrapper owning a model and its guide, and building them from a config."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from pyro_vae._pyro import local_params
from pyro_vae.config.schema import ModelConfig
from pyro_vae.guides import VAEGuide
from pyro_vae.likelihoods import LIKELIHOODS, Likelihood
from pyro_vae.models import VAEModel
from pyro_vae.networks import NETWORKS
from pyro_vae.priors import PRIORS, Prior

if TYPE_CHECKING:
    from pyro_vae.data import DataBundle, Split
from pyro_vae.kinds._registry import MODEL_KINDS, ModelKind

__all__ = ["VAE", "build_vae"]


class VAE(nn.Module):
    """A Pyro model and its guide, trained together.

    The wrapper adds no computation of its own: ``model`` and ``guide`` are the
    Pyro programs any ELBO accepts; the helpers below decode, encode and sample
    for pictures and evaluation.

    Parameters
    ----------
    model
        The generative model ``p(x, z)``.
    guide
        The amortized guide ``q(z | x)``.
    max_plate_nesting
        Plates the model nests (the data plate), for vectorized estimators.
    """

    def __init__(self, model: VAEModel, guide: VAEGuide, max_plate_nesting: int = 1) -> None:
        super().__init__()
        self.model = model
        self.guide = guide
        self.max_plate_nesting = max_plate_nesting

    @property
    def prior(self) -> Prior:
        return self.model.prior

    @property
    def likelihood(self) -> Likelihood:
        return self.model.likelihood

    @property
    def z_dim(self) -> int:
        return self.guide.z_dim

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of ``q(z | x)``, each ``(B, z_dim)``."""
        q = self.guide.posterior(x)
        return q.base_dist.loc, q.base_dist.scale

    def decode(self, z: Tensor) -> Tensor:
        """``E[x | z]``, shape ``(..., *event_shape)``."""
        return self.likelihood.mean(self.model.decoder(z))

    def sample_prior(self, n: int) -> Tensor:
        """``n`` latent codes drawn from ``p(z)``, shape ``(n, z_dim)``."""
        return self.prior().sample((n,))

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """``E[x | z = mean of q(z | x)]`` for a batch."""
        return self.decode(self.encode(x)[0])

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """``n`` examples ``E[x | z]`` with ``z ~ p(z)``."""
        return self.decode(self.sample_prior(n))

    def validation_metrics(self, split: Split) -> dict[str, float]:
        """Figures this kind of model adds to each epoch's row of ``metrics.csv`` (none for a plain VAE)."""
        return {}

    def extra_metrics(self, data: DataBundle) -> dict[str, Any]:
        """Figures this kind of model adds to ``summary.json`` (none for a plain VAE)."""
        return {}

    def write_pictures(self, data: DataBundle, history: list[dict[str, float]], folder: Path) -> list[Path]:
        """Samples, reconstructions, training curve and latent-space pictures (see :mod:`pyro_vae.plots`)."""
        from pyro_vae.plots import write_pictures

        return write_pictures(self, data, history, folder)


def build_vae(config: ModelConfig, event_shape: tuple[int, ...]) -> VAE:
    """Build the prior, likelihood and networks ``config`` names, sized for ``event_shape``."""
    with local_params():
        return _build_vae(config, event_shape)


def _build_vae(config: ModelConfig, event_shape: tuple[int, ...]) -> VAE:
    prior = PRIORS.build(config.prior, z_dim=config.z_dim)
    likelihood = LIKELIHOODS.build(config.likelihood, event_shape=tuple(event_shape))
    networks = NETWORKS.build(
        config.network,
        event_shape=tuple(event_shape),
        z_dim=config.z_dim,
        params_per_dim=likelihood.params_per_dim,
        encoder_out=VAEGuide.outputs_per_latent * config.z_dim,
    )
    model = VAEModel(prior, networks.decoder, likelihood)
    guide = VAEGuide(networks.encoder, config.z_dim)
    return VAE(model, guide)


MODEL_KINDS.register("vae")(ModelKind(build=lambda config, shape: build_vae(config, shape.event_shape)))
