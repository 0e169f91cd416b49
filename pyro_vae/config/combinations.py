"""Checks across sections: can the chosen estimator train the model the configuration describes.

Done with the rest of the validation, so that a combination that cannot work
is refused before any data is read or any run directory is made.
"""

from __future__ import annotations

from pyro_vae.config.schema import ModelConfig, RunConfig
from pyro_vae.errors import ConfigError
from pyro_vae.estimators.needs import ModelTraits, check_applies
from pyro_vae.kinds import MODEL_KINDS
from pyro_vae.priors import PRIORS
from pyro_vae.registry import normalize_spec

__all__ = ["check_estimator_applies", "model_traits"]


def model_traits(model: ModelConfig) -> ModelTraits:
    """The traits of the model ``model`` describes, each named by the setting that causes it."""
    prior = normalize_spec(model.prior, "prior")["name"]
    kind = MODEL_KINDS.get(model.kind)
    discrete = None
    if PRIORS.get(prior).guide_family != "normal":
        discrete = f"model.prior = {prior!r} makes a binary code"
    elif model.bits:
        discrete = f"model.bits = {model.bits} adds a binary code"
    elif kind.uses_labels:
        discrete = f"model.kind = {model.kind!r} infers each missing label as a discrete latent"
    label_plates = None
    if kind.uses_labels:
        label_plates = f"model.kind = {model.kind!r} splits each batch into plates by which labels are known"
    elif kind.nested_plates:
        label_plates = f"model.kind = {model.kind!r} nests each batch's members inside group plates"
    programs = f"model.kind = {model.kind!r} runs your own Pyro programs" if kind.own_programs else None
    return ModelTraits(discrete=discrete, label_plates=label_plates, programs=programs)


def check_estimator_applies(config: RunConfig) -> None:
    """Refuse (:class:`~pyro_vae.errors.ConfigError`) a ``train.estimator`` that cannot train ``config.model``."""
    check_applies(config.train.estimator, model_traits(config.model))
    _check_compiled_weight(config)


def _check_compiled_weight(config: RunConfig) -> None:
    """The ``jit_`` estimators trace the loss with a KL weight of 1, in float32: no warm-up, beta, autocast, compile."""
    name = normalize_spec(config.train.estimator, "estimator")["name"]
    if not name.startswith("jit_"):
        return
    if config.train.kl_warmup_epochs > 0:
        raise ConfigError(
            f"estimator {name!r} compiles the loss once and cannot follow a changing KL weight: "
            f"set train.kl_warmup_epochs = 0 or use {name.removeprefix('jit_')!r}"
        )
    if str(config.train.precision) != "32" or config.train.compile:
        raise ConfigError(
            f"estimator {name!r} traces the loss once, in float32 with eager networks: set train.precision = "
            f'"32" and train.compile = false, or use {name.removeprefix("jit_")!r}'
        )
    beta = config.model.option("beta")
    if beta is not None and beta != 1:
        raise ConfigError(
            f"estimator {name!r} compiles the loss with a KL weight of 1, but model.beta = {beta}: "
            f"use {name.removeprefix('jit_')!r} or set model.beta = 1"
        )
