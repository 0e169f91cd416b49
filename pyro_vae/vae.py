"""The thin wrapper owning a model and its guide, and building them from a config."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from pyro_vae._pyro import local_params
from pyro_vae.config.schema import ModelConfig, RunConfig
from pyro_vae.data import Split, TrainingBatches, check_support
from pyro_vae.errors import ConfigError
from pyro_vae.evaluation import ExampleScores, score_examples
from pyro_vae.guides import POSTERIOR_FAMILIES, VAEGuide
from pyro_vae.kinds import DataShape
from pyro_vae.likelihoods import LIKELIHOODS, Likelihood
from pyro_vae.models import VAEModel
from pyro_vae.networks import NETWORKS
from pyro_vae.priors import PRIORS, Prior
from pyro_vae.vae_pictures import write_vae_pictures

if TYPE_CHECKING:
    from pyro_vae.data import DataBundle, Shard

__all__ = ["ENCODE_CHUNK", "VAE", "build_vae", "build_vae_kind", "check_beta"]

#: examples encoded or reconstructed per forward pass by :meth:`VAE.transform` and :meth:`VAE.reconstruct`
ENCODE_CHUNK = 1000


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
    beta
        Weight of the latent (KL) terms during training, on top of the KL warm-up:
        1 trains on the ELBO, above 1 is the beta-VAE of Higgins et al. (2017).
        Evaluation always scores the ELBO itself.
    """

    def __init__(self, model: VAEModel, guide: VAEGuide, max_plate_nesting: int = 1, beta: float = 1.0) -> None:
        super().__init__()
        self.model = model
        self.guide = guide
        self.max_plate_nesting = max_plate_nesting
        self.beta = check_beta(beta)

    @property
    def prior(self) -> Prior:
        return self.model.prior

    @property
    def likelihood(self) -> Likelihood:
        return self.model.likelihood

    @property
    def z_dim(self) -> int:
        return self.guide.z_dim

    def has_discrete_latents(self) -> bool:
        """Whether some latent site is discrete (binary codes): only graph, relaxed, enum or trace train it."""
        return any(prior.guide_family != "normal" for prior in self.model.priors().values())

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of ``q(z | x)``, each ``(B, z_dim)`` (all latent sites side by side)."""
        return self.guide.moments(x)

    def decode(self, z: Tensor) -> Tensor:
        """``E[x | z]``, shape ``(..., *event_shape)``."""
        return self.likelihood.mean(self.model.decoder(z))

    def sample_prior(self, n: int) -> Tensor:
        """``n`` latent codes drawn from ``p(z)``, shape ``(n, z_dim)`` (all latent sites side by side)."""
        return torch.cat([prior().sample((n,)) for prior in self.model.priors().values()], -1)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """``E[x | z = mean of q(z | x)]`` for examples ``(N, *event_shape)``, ``ENCODE_CHUNK`` at a time."""
        return torch.cat([self.decode(self.encode(part)[0]) for part in _as_examples(x).split(ENCODE_CHUNK)])

    @torch.no_grad()
    def transform(self, x: Tensor | np.ndarray) -> Tensor:
        """Posterior means of ``q(z | x)``, ``(N, z_dim)``: the codes, scikit-learn style, in chunks."""
        return self.encode_all(x)[0]

    @torch.no_grad()
    def encode_all(self, x: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
        """:meth:`encode` of examples ``(N, *event_shape)`` in chunks: means and standard deviations, ``(N, z_dim)``."""
        parts = [self.encode(part) for part in _as_examples(x).split(ENCODE_CHUNK)]
        return torch.cat([mean for mean, _ in parts]), torch.cat([std for _, std in parts])

    def log_likelihood(
        self, x: Tensor | np.ndarray, samples: int = 1000, batch_size: int = 100, seed: int = 0
    ) -> Tensor:
        """Importance-sampled ``log p(x)`` of each example (``samples`` draws of ``q(z | x)``), shape ``(N,)``, nats.

        The estimator of ``summary.json``'s ``test_log_likelihood`` (its mean over the test split, with the
        run's ``eval.samples``, ``eval.batch_size`` and ``eval.seed``), a lower bound in expectation that
        tightens as ``samples`` grows; memory is bounded as in evaluation. A high score is a typical example.
        """
        return torch.from_numpy(self._scores(x, samples, batch_size, seed).log_likelihood)

    def elbo(self, x: Tensor | np.ndarray, samples: int = 1, batch_size: int = 100, seed: int = 0) -> Tensor:
        """The ELBO of each example, averaged over ``samples`` draws of ``q(z | x)``, shape ``(N,)``, nats."""
        return torch.from_numpy(self._scores(x, samples, batch_size, seed).elbo)

    def _scores(self, x: Tensor | np.ndarray, samples: int, batch_size: int, seed: int) -> ExampleScores:
        for name, value in (("samples", samples), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        return score_examples(self, Split(_as_examples(x), None), samples, batch_size, seed)

    def check_data(self, data: DataBundle) -> None:
        """Check every split against the likelihood's support before training or evaluation (:func:`check_support`)."""
        check_support(data, self.likelihood)

    def output_floats(self, event_size: int) -> int:
        """Floats of decoder output per example of ``event_size`` values (sizes evaluation's chunks of draws)."""
        return event_size * self.likelihood.params_per_dim

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """``n`` examples ``E[x | z]`` with ``z ~ p(z)``."""
        return self.decode(self.sample_prior(n))

    def scoring_programs(self) -> tuple[nn.Module, nn.Module]:
        """The model and guide that score one example at a time (evaluation, diagnostics): here ``model, guide``."""
        return self.model, self.guide

    def training_batches(
        self,
        split: Split,
        config: RunConfig,
        generator: torch.Generator,
        dynamic_binarize: bool,
        shard: Shard | None = None,
    ) -> Iterable[tuple[Tensor, Tensor | None]]:
        """One epoch of training batches ``(x, labels)`` for this kind: shuffled examples (this process's ``shard``)."""
        train, shift = config.train, config.data.shift
        return TrainingBatches(split, train.batch_size, 0, generator, dynamic_binarize, shift, shard)

    def examples_in(self, x: Tensor) -> int:
        """How many examples a training batch ``x`` holds (the loss is averaged over them)."""
        return x.shape[0]

    def loss_labels(self, y: Tensor | None) -> Tensor | None:
        """What of a training batch's labels the model and guide read in training (``None``: none, as here)."""
        return None

    def critic_parameters(self) -> list[nn.Parameter]:
        """Parameters trained in their own steps, in alternation with the ELBO's (a critic's); none here."""
        return []

    def critic_loss(self, x: Tensor, y: Tensor | None) -> Tensor:
        """The loss of the critic's step on training batch ``x`` (labels :meth:`loss_labels`); see subclasses.

        Raises
        ------
        TypeError
            For a model without a critic (:meth:`critic_parameters` is empty).
        """
        raise TypeError(f"{type(self).__name__} has no critic")

    def validation_metrics(self, split: Split) -> dict[str, float]:
        """Figures this kind of model adds to each epoch's row of ``metrics.csv`` (none for a plain VAE)."""
        return {}

    def selection(self, val_elbo: float, metrics: dict[str, float]) -> tuple[str, float]:
        """What picks the best epoch and drives early stopping: its name and this epoch's value (higher is better).

        A plain VAE is selected by its validation ELBO; ``metrics`` is :meth:`validation_metrics`' output.
        """
        return "validation ELBO", val_elbo

    def extra_metrics(self, data: DataBundle) -> dict[str, Any]:
        """Figures this kind of model adds to ``summary.json`` (none for a plain VAE)."""
        return {}

    def write_pictures(self, data: DataBundle, history: list[dict[str, float]], folder: Path) -> list[Path]:
        """Samples, reconstructions, training curve and latent-space pictures (see :mod:`pyro_vae.vae_pictures`)."""
        return write_vae_pictures(self, data, history, folder)


def _as_examples(x: Tensor | np.ndarray) -> Tensor:
    """``x`` as a float32 tensor of examples (arrays are converted; prepare them as the run's data were)."""
    return torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x, dtype=torch.float32)


def check_beta(beta: object) -> float:
    """``beta`` as a float; a :class:`ConfigError` unless it is a positive finite number."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 < beta < math.inf:
        raise ConfigError(f"model.beta must be a positive number (1: the ELBO; above 1: a beta-VAE), got {beta!r}")
    return float(beta)


def build_vae(config: ModelConfig, event_shape: tuple[int, ...]) -> VAE:
    """Build the prior, likelihood and networks ``config`` names, sized for ``event_shape``."""
    with local_params():
        return _build_vae(config, event_shape)


def _build_vae(config: ModelConfig, event_shape: tuple[int, ...]) -> VAE:
    priors = {"z": PRIORS.build(config.prior, z_dim=config.z_dim)}
    if config.bits:
        priors["bits"] = _bits_prior(config)
    likelihood = LIKELIHOODS.build(config.likelihood, event_shape=tuple(event_shape))
    event_size = math.prod(event_shape)
    blocks = {name: POSTERIOR_FAMILIES[p.guide_family](p.z_dim, event_size) for name, p in priors.items()}
    networks = NETWORKS.build(
        config.network,
        event_shape=tuple(event_shape),
        z_dim=sum(block.dim for block in blocks.values()),
        params_per_dim=likelihood.params_per_dim,
        encoder_out=sum(block.outputs for block in blocks.values()),
    )
    model = VAEModel(priors["z"], networks.decoder, likelihood, bits_prior=priors.get("bits"))
    guide = VAEGuide(networks.encoder, blocks)
    priors["z"].bind(guide, tuple(event_shape))
    beta = config.option("beta")
    return VAE(model, guide, beta=1.0 if beta is None else beta)


def _bits_prior(config: ModelConfig) -> Prior:
    """The prior of the binary block of a mixed model, which must be a prior over bits."""
    if isinstance(config.bits, bool) or not isinstance(config.bits, int) or config.bits < 0:
        raise ConfigError(f"model.bits must be 0 (no binary block) or a number of bits, got {config.bits!r}")
    prior = PRIORS.build(config.bits_prior or "bernoulli", z_dim=config.bits)
    if prior.guide_family != "bernoulli":
        raise ConfigError(
            f"model.bits_prior must be a prior over bits (e.g. 'bernoulli'), got {config.bits_prior!r}: "
            "continuous codes belong in model.prior"
        )
    return prior


def build_vae_kind(config: ModelConfig, shape: DataShape) -> VAE:
    """The builder of model kind ``vae`` (see :mod:`pyro_vae.kinds`): :func:`build_vae` sized for ``shape``."""
    return build_vae(config, shape.event_shape)
