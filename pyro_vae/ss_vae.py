"""The semi-supervised VAE (M2): wrapper, builder, and its registration as model kind ``ss_vae``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from pyro_vae._device import module_device
from pyro_vae._pyro import local_params
from pyro_vae.config.schema import ModelConfig, RunConfig
from pyro_vae.data import TrainingBatches
from pyro_vae.errors import ConfigError, DataError
from pyro_vae.evaluation.ss import accuracy, semi_supervised_metrics
from pyro_vae.guides.ss_vae import AuxiliaryTerms, SSVAEGuide
from pyro_vae.kinds import MODEL_KINDS, DataShape
from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.models.ss_vae import SSVAEModel
from pyro_vae.networks import NETWORKS, make_activation
from pyro_vae.priors import PRIORS
from pyro_vae.registry import normalize_spec
from pyro_vae.ss_vae_pictures import write_ss_pictures
from pyro_vae.vae import ENCODE_CHUNK, VAE

if TYPE_CHECKING:
    from pyro_vae.data import DataBundle, Shard, Split

__all__ = [
    "SSVAE",
    "SS_OPTIONS",
    "build_ss_vae",
    "consistency_shift",
    "consistency_weight",
]

#: [model] fields only the semi-supervised kind reads, with their defaults (declared in :mod:`pyro_vae.kinds`;
#: ``consistency_shift`` None: derived from the image size by :func:`consistency_shift`)
SS_OPTIONS: Mapping[str, Any] = MODEL_KINDS.get("ss_vae").options
#: the default ``model.consistency`` on images (on other data the term does not apply: 0)
IMAGE_CONSISTENCY = 30.0
#: the default ``model.consistency_shift`` is this share of the smaller image side (2 pixels on 28x28, 1 on 8x8)
SHIFT_SHARE = 1 / 14
#: hidden width of the adversaries that predict labels from z
ADVERSARY_HIDDEN = 256


class SSVAE(VAE):
    """The semi-supervised model and guide; labels are ``(B,)`` or ``(B, K)`` with ``-1`` for missing."""

    model: SSVAEModel
    guide: SSVAEGuide

    @property
    def factors(self) -> list[str]:
        return self.model.factors

    def loss_labels(self, y: Tensor | None) -> Tensor | None:
        """The batch's labels, ``-1`` where missing: the model observes them and the guide infers the rest."""
        return y

    @property
    def classes(self) -> list[int]:
        return self.model.classes

    @torch.no_grad()
    def classify(self, x: Tensor) -> list[Tensor]:
        """Class probabilities ``q(y_k | x)`` per factor, each ``(B, C_k)``."""
        return [logits.softmax(-1) for logits in self.guide.classify(x)]

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Most probable class per factor, ``(B, K)``."""
        return torch.stack([p.argmax(-1) for p in self.classify(x)], dim=-1)

    def _labels(self, y: Tensor | None, n: int) -> list[Tensor]:
        """Label columns of ``y`` (``(n,)`` or ``(n, K)``), or labels drawn from ``p(y)`` if ``None``."""
        if y is None:
            y = torch.stack([torch.randint(c, (n,), device=module_device(self)) for c in self.classes], -1)
        return list(y.reshape(n, -1).unbind(-1))

    def encode(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of ``q(z | x, y)``; missing labels (``-1`` or ``None``) are predicted."""
        predicted = self.predict(x)
        y = (
            predicted
            if y is None
            else torch.where(y.reshape(predicted.shape) >= 0, y.reshape(predicted.shape), predicted)
        )
        q = self.guide.posterior(self.guide.body(x), self._labels(y, x.shape[0]))
        return q.base_dist.loc, q.base_dist.scale

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """``E[x | z, y]``; ``y`` defaults to labels drawn from ``p(y)``."""
        return self.likelihood.mean(self.model.decode(z, self._labels(y, z.shape[0])))

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """``E[x | z = mean of q(z | x, y), y]`` with ``y`` the classifier's prediction, ``ENCODE_CHUNK`` at a time."""
        return torch.cat([self._reconstruct(part) for part in torch.as_tensor(x).split(ENCODE_CHUNK)])

    def _reconstruct(self, x: Tensor) -> Tensor:
        y = self.predict(x)
        return self.decode(self.encode(x, y)[0], y)

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None) -> Tensor:
        """``n`` examples ``E[x | z, y]``, ``z ~ p(z)``, ``y`` given or drawn from ``p(y)``."""
        return self.decode(self.sample_prior(n), y)

    def training_batches(
        self,
        split: Split,
        config: RunConfig,
        generator: torch.Generator,
        dynamic_binarize: bool,
        shard: Shard | None = None,
    ) -> Iterable[tuple[Tensor, Tensor | None]]:
        """Shuffled batches with ``train.labelled_per_batch`` labelled rows in each (see :class:`TrainingBatches`)."""
        train = config.train
        return TrainingBatches(
            split, train.batch_size, train.labelled_per_batch, generator, dynamic_binarize, config.data.shift, shard
        )

    def validation_metrics(self, split: Split) -> dict[str, float]:
        """Accuracy of ``q(y_k | x)`` on the validation split per factor (see :meth:`selection`)."""
        return {f"val_accuracy_{name}": acc for name, acc in accuracy(self, split).items()}

    def selection(self, val_elbo: float, metrics: dict[str, float]) -> tuple[str, float]:
        """The semi-supervised validation rule: mean validation accuracy of ``q(y | x)`` where labels allow.

        The ELBO does not measure the classifier (the classification term is not
        part of it, and a confident classifier can lower it), so the best epoch is
        the one with the highest accuracy averaged over the factors the
        validation split has labels for (ties broken by the validation ELBO); with none, the validation ELBO.
        """
        accuracies = [metrics[f"val_accuracy_{name}"] for name in self.factors]
        known = [acc for acc in accuracies if math.isfinite(acc)]
        if not known:
            return super().selection(val_elbo, metrics)
        return "validation accuracy", sum(known) / len(known)

    def extra_metrics(self, data: DataBundle) -> dict[str, Any]:
        """Test accuracy of ``q(y|x)`` and label leakage into ``z``, per factor (see :mod:`pyro_vae.evaluation.ss`)."""
        return semi_supervised_metrics(self, data)

    def write_pictures(self, data: DataBundle, history: list[dict[str, float]], folder: Path) -> list[Path]:
        """Analogies, conditional samples, the latent embedding coloured by class, and the training curve."""
        return write_ss_pictures(self, data, history, folder)


def _check_options(config: ModelConfig, shape: DataShape) -> list[str]:
    if not shape.classes:
        raise DataError(
            "model kind 'ss_vae' needs labels for its specified factors (-1 where missing): give "
            "labels (labels= from Python, an npz label_key, a csv label_column, or a labelled dataset)"
        )
    factors = config.factors or (
        ["label"] if len(shape.classes) == 1 else [f"label{k}" for k in range(len(shape.classes))]
    )
    if len(factors) != len(shape.classes):
        raise ConfigError(
            f"model.factors names {len(factors)} factors ({', '.join(factors)}) but the labels have "
            f"{len(shape.classes)} columns: name one factor per label column"
        )
    if len(set(factors)) != len(factors) or any(not f.isidentifier() for f in factors):
        raise ConfigError(f"model.factors must be distinct names made of letters, digits and _, got {factors}")
    prior = PRIORS.get(normalize_spec(config.prior, "prior")["name"])
    if prior.guide_family != "normal" or not prior.standalone:
        raise ConfigError(
            f"model kind 'ss_vae' needs a continuous prior for its style z that stands alone, not "
            f"{normalize_spec(config.prior, 'prior')['name']!r}: use 'normal', 'learned_normal', 'laplace' or 'mixture'"
        )
    for option in ("alpha", "adversary", "consistency"):
        value = _option(config, option)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or not math.isfinite(value):
            raise ConfigError(f"model.{option} must be a non-negative number, got {value!r}")
    shift = _option(config, "consistency_shift")
    if shift is not None and (isinstance(shift, bool) or not isinstance(shift, int) or shift < 1):
        raise ConfigError(f"model.consistency_shift must be a positive number of pixels, got {shift!r}")
    if _option(config, "consistency") > 0 and len(shape.event_shape) != 3:
        raise ConfigError(
            f"model.consistency compares translated copies of images, but examples have shape "
            f"{shape.event_shape}: set model.consistency = 0"
        )
    return factors


def _option(config: ModelConfig, name: str) -> Any:
    value = getattr(config, name)
    return SS_OPTIONS[name] if value is None else value


def consistency_shift(config: ModelConfig, shape: DataShape) -> int:
    """``model.consistency_shift``, or by default :data:`SHIFT_SHARE` of the smaller image side (at least 1 pixel)."""
    shift = _option(config, "consistency_shift")
    if shift is not None or len(shape.event_shape) != 3:
        return 1 if shift is None else shift
    return max(1, round(min(shape.event_shape[1:]) * SHIFT_SHARE))


def consistency_weight(config: ModelConfig, shape: DataShape) -> float:
    """``model.consistency``, or by default :data:`IMAGE_CONSISTENCY` on images and 0 on other data."""
    if config.consistency is not None:
        return float(config.consistency)
    return IMAGE_CONSISTENCY if len(shape.event_shape) == 3 else 0.0


def build_ss_vae(config: ModelConfig, shape: DataShape) -> SSVAE:
    """Build the semi-supervised VAE ``config`` describes for data of ``shape`` (which must carry labels)."""
    factors = _check_options(config, shape)
    with local_params():
        return _build(config, shape, factors)


def _build(config: ModelConfig, shape: DataShape, factors: list[str]) -> SSVAE:
    classes, z_dim, width = list(shape.classes), config.z_dim, _option(config, "features")
    codes = sum(classes)
    act = normalize_spec(config.network, "network").get("activation", "relu")
    likelihood = LIKELIHOODS.build(config.likelihood, event_shape=shape.event_shape)
    nets = NETWORKS.build(
        config.network,
        event_shape=shape.event_shape,
        z_dim=z_dim + codes,
        params_per_dim=likelihood.params_per_dim,
        encoder_out=width,
    )
    head = nn.Sequential(
        make_activation(act),
        nn.Linear(width + codes, width),
        make_activation(act),
        nn.Linear(width, SSVAEGuide.outputs_per_latent * z_dim),
    )
    classifier = _option(config, "classifier") or config.network
    classifiers = nn.ModuleList(
        NETWORKS.build(classifier, event_shape=shape.event_shape, z_dim=1, params_per_dim=1, encoder_out=c).encoder
        for c in classes
    )
    adversaries = None
    if _option(config, "adversary") > 0:
        adversaries = nn.ModuleList(
            nn.Sequential(nn.Linear(z_dim, ADVERSARY_HIDDEN), make_activation(act), nn.Linear(ADVERSARY_HIDDEN, c))
            for c in classes
        )
    model = SSVAEModel(PRIORS.build(config.prior, z_dim=z_dim), nets.decoder, likelihood, factors, classes)
    guide = SSVAEGuide(
        classifiers,
        nets.encoder,
        head,
        z_dim,
        factors,
        classes,
        AuxiliaryTerms(
            alpha=float(_option(config, "alpha")),
            adversary=float(_option(config, "adversary")),
            consistency=consistency_weight(config, shape),
            consistency_shift=consistency_shift(config, shape),
        ),
        adversaries,
    )
    return SSVAE(model, guide)
