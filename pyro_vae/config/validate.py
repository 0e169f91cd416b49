"""Semantic checks of a :class:`RunConfig`: registered names, option names, value ranges."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import fields, replace

from pyro_vae._device import check_device_name
from pyro_vae._workers import check_workers
from pyro_vae.config.combinations import check_estimator_applies
from pyro_vae.config.schema import (
    BINARIZE_MODES,
    LOGGERS,
    ON_DIVERGENCE,
    PRECISIONS,
    DataConfig,
    EvalConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    unknown_key_error,
)
from pyro_vae.data import DATASETS
from pyro_vae.errors import ConfigError
from pyro_vae.estimators import ESTIMATORS
from pyro_vae.kinds import MODEL_KINDS
from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.networks import NETWORKS
from pyro_vae.optim import OPTIMIZERS, SCHEDULERS
from pyro_vae.priors import PRIORS
from pyro_vae.registry import normalize_spec

__all__ = ["AUTO", "SEED_LIMIT", "TENSORBOARD_MISSING", "validate_config"]

#: ``train.estimator`` value meaning "the model kind's default"
AUTO = "auto"
#: every seed lies in [0, SEED_LIMIT), the range NumPy's generator accepts
SEED_LIMIT = 2**32


#: seeds go to NumPy too (pyro.set_rng_seed), which takes [0, 2**32)
SEED_RANGE = "an integer in [0, 2**32)"


def _require(ok: bool, key: str, expected: str, value: object) -> None:
    if not ok:
        raise ConfigError(f"{key} must be {expected}, got {value!r}")


def _finite(value: float) -> bool:
    return math.isfinite(value)


def _check_source_options(data: DataConfig) -> None:
    """Each key of ``[data]`` outside the schema must be an option of the chosen source (listed with the keys)."""
    known = DATASETS.options(data.name)
    for key in data.source_options:
        if key not in known:
            schema = [f.name for f in fields(DataConfig) if f.name != "source_options"]
            raise unknown_key_error("in [data]: ", key, [*schema, *(k for k in known if k not in schema)])


def _validate_data(data: DataConfig) -> None:
    DATASETS.get(data.name)
    _check_source_options(data)
    DATASETS.check(data.source_spec())
    _require(
        data.scale == "auto" or (isinstance(data.scale, float) and _finite(data.scale) and data.scale > 0),
        "data.scale",
        '"auto" or a positive number',
        data.scale,
    )
    _require(data.binarize in BINARIZE_MODES, "data.binarize", f"one of {', '.join(BINARIZE_MODES)}", data.binarize)
    _require(
        0 < data.val_fraction < 1,
        "data.val_fraction",
        "a number in (0, 1): the validation split picks the best epoch",
        data.val_fraction,
    )
    _require(0 <= data.test_fraction < 1, "data.test_fraction", "a number in [0, 1)", data.test_fraction)
    _require(
        data.val_fraction + data.test_fraction < 1,
        "data.val_fraction + data.test_fraction",
        "less than 1",
        data.val_fraction + data.test_fraction,
    )
    _require(data.limit >= 0, "data.limit", "0 (all examples) or a positive integer", data.limit)
    _require(
        data.labels is None or data.labels >= 0,
        "data.labels",
        "the number of training examples that keep their labels (0 or more)",
        data.labels,
    )
    _require(data.shift >= 0, "data.shift", "0 (no augmentation) or the largest translation in pixels", data.shift)


def _validate_model(model: ModelConfig) -> None:
    kind = MODEL_KINDS.get(model.kind)
    _require(model.z_dim >= 1, "model.z_dim", "a positive integer", model.z_dim)
    PRIORS.check(model.prior)
    LIKELIHOODS.check(model.likelihood)
    NETWORKS.check(model.network)
    if model.classifier is not None:
        NETWORKS.check(model.classifier)
    _require(model.features is None or model.features >= 1, "model.features", "a positive integer", model.features)
    for name in ("alpha", "adversary", "consistency"):
        value = getattr(model, name)
        _require(value is None or (_finite(value) and value >= 0), f"model.{name}", "a non-negative number", value)
    shift = model.consistency_shift
    _require(shift is None or shift >= 1, "model.consistency_shift", "a positive number of pixels", shift)
    _require(model.bits is None or model.bits >= 0, "model.bits", "0 (no binary block) or a number of bits", model.bits)
    kind_options = {name for k in MODEL_KINDS.names() for name in MODEL_KINDS.get(k).options}
    for name in model.kind_options:
        if name not in kind_options:
            schema = [f.name for f in fields(ModelConfig) if f.name != "kind_options"]
            raise unknown_key_error("in [model]: ", name, [*schema, *sorted(kind_options - set(schema))])
    for name in sorted(kind_options - set(kind.options)):
        if model.option(name) is not None:
            owners = [k for k in MODEL_KINDS.names() if name in MODEL_KINDS.get(k).options]
            raise ConfigError(
                f"model.{name} applies to model kind {' or '.join(map(repr, owners))} only, "
                f"not {model.kind!r}: remove it or set model.kind"
            )


def _validate_train(train: TrainConfig) -> None:
    _require(train.epochs >= 1, "train.epochs", "a positive integer", train.epochs)
    _require(train.batch_size >= 1, "train.batch_size", "a positive integer", train.batch_size)
    _require(_finite(train.lr) and train.lr > 0, "train.lr", "a positive number", train.lr)
    warmup = train.kl_warmup_epochs
    _require(_finite(warmup) and warmup >= 0, "train.kl_warmup_epochs", "a non-negative number", warmup)
    _require(train.patience >= 0, "train.patience", "0 (no early stopping) or a positive integer", train.patience)
    clip = train.grad_clip
    _require(_finite(clip) and clip >= 0, "train.grad_clip", "0 (no clipping) or a positive number", clip)
    _require(
        train.labelled_per_batch >= 0,
        "train.labelled_per_batch",
        "0 (batches drawn from all rows alike) or the labelled rows in each batch",
        train.labelled_per_batch,
    )
    _require(
        train.labelled_per_batch < train.batch_size,
        "train.labelled_per_batch",
        f"less than train.batch_size ({train.batch_size})",
        train.labelled_per_batch,
    )
    _validate_divergence(train)
    _validate_loggers(train.loggers)
    check_device_name(train.device)
    _require(str(train.precision) in PRECISIONS, "train.precision", f"one of {', '.join(PRECISIONS)}", train.precision)
    _require(
        _finite(train.ddp_timeout) and train.ddp_timeout > 0,
        "train.ddp_timeout",
        "a positive number of seconds",
        train.ddp_timeout,
    )
    OPTIMIZERS.check(train.optimizer)
    SCHEDULERS.check(train.scheduler)
    ESTIMATORS.check(train.estimator)


def _validate_divergence(train: TrainConfig) -> None:
    _require(
        train.on_divergence in ON_DIVERGENCE,
        "train.on_divergence",
        f"one of {', '.join(ON_DIVERGENCE)}",
        train.on_divergence,
    )
    _require(train.max_rollbacks >= 0, "train.max_rollbacks", "0 or a positive integer", train.max_rollbacks)
    _require(
        train.divergence_factor == 0 or (_finite(train.divergence_factor) and train.divergence_factor >= 1),
        "train.divergence_factor",
        "0 (only a NaN/inf loss is divergence) or a number of at least 1",
        train.divergence_factor,
    )


def _validate_loggers(loggers: list[str]) -> None:
    """Known names only, and the optional package a logger needs installed (found without importing it)."""
    for name in loggers:
        _require(name in LOGGERS, "train.loggers", f"a list of {', '.join(LOGGERS)}", loggers)
    if "tensorboard" in loggers and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(TENSORBOARD_MISSING)


#: the one-line error when train.loggers asks for TensorBoard and the package is missing
TENSORBOARD_MISSING = (
    "train.loggers = 'tensorboard' needs the tensorboard package, which is not installed: "
    "pip install 'pyro-vae[tensorboard]' (or pip install tensorboard), or remove 'tensorboard' from train.loggers"
)


def _validate_eval(evaluation: EvalConfig) -> None:
    _require(evaluation.samples >= 1, "eval.samples", "a positive integer", evaluation.samples)
    _require(evaluation.batch_size >= 1, "eval.batch_size", "a positive integer", evaluation.batch_size)
    try:
        check_workers(evaluation.workers)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _validate_seeds(config: RunConfig) -> None:
    seeds = {"seed": config.seed, "data.split_seed": config.data.split_seed, "eval.seed": config.eval.seed}
    for key, value in seeds.items():
        _require(0 <= value < SEED_LIMIT, key, f"{SEED_RANGE}, i.e. 0 to {SEED_LIMIT - 1}", value)


#: [data] keys that say how a group kind forms its groups, and the grouping each belongs to (None: both)
GROUPING_KEYS = {"groups": None, "group_size": "label", "group_factor": "label", "shared_factors": "pairs"}


def _validate_grouping(config: RunConfig) -> None:
    """Grouping keys apply to the kinds that train on groups, each to its own way of grouping."""
    data, kind = config.data, MODEL_KINDS.get(config.model.kind)
    grouping = data.groups or "label"
    for key, owner in GROUPING_KEYS.items():
        if getattr(data, key) is None:
            continue
        if not kind.nested_plates:
            group_kinds = [k for k in MODEL_KINDS.names() if MODEL_KINDS.get(k).nested_plates]
            raise ConfigError(
                f"data.{key} applies to the kinds that train on groups ({', '.join(group_kinds)}), "
                f"not {config.model.kind!r}: remove it or set model.kind"
            )
        if owner is not None and owner != grouping:
            raise ConfigError(
                f"data.{key} applies to data.groups = {owner!r}, not {grouping!r}: remove it or set data.groups"
            )


def _resolve_auto_estimator(config: RunConfig) -> RunConfig:
    """``train.estimator = "auto"`` (or a table named "auto") becomes the model kind's default estimator."""
    spec = normalize_spec(config.train.estimator, "estimator")
    if spec["name"] != AUTO:
        return config
    spec["name"] = MODEL_KINDS.get(config.model.kind).default_estimator
    estimator = spec["name"] if len(spec) == 1 else spec
    return replace(config, train=replace(config.train, estimator=estimator))


def validate_config(config: RunConfig) -> RunConfig:
    """Check every section of ``config``; return it, with ``train.estimator = "auto"`` resolved for the kind."""
    _validate_seeds(config)
    _validate_data(config.data)
    _validate_model(config.model)
    config = _resolve_auto_estimator(config)
    _validate_train(config.train)
    config = replace(config, train=replace(config.train, precision=str(config.train.precision)))
    _validate_eval(config.eval)
    _validate_grouping(config)
    check_estimator_applies(config)
    return config
