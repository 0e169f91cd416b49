"""The run configuration: typed sections, strict parsing, and conversion back to plain data.

A configuration is a :class:`RunConfig` made of four sections (``data``,
``model``, ``train``, ``eval``) plus a top-level ``seed``. It is read from a
TOML file or from Python keyword arguments, validated eagerly (every unknown
key, name or option is an error that lists the valid ones), and saved next to
each run as ``config.toml``.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from pyro_vae.errors import ConfigError
from pyro_vae.registry import ComponentSpec

__all__ = [
    "DataConfig",
    "EvalConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
]

BINARIZE_MODES = ("auto", "none", "fixed", "dynamic")
#: values of ``train.precision`` (see pyro_vae.training.precision)
PRECISIONS = ("32", "bf16", "16")
#: values of ``train.on_divergence`` (see pyro_vae.training.divergence)
ON_DIVERGENCE = ("stop", "rollback")
#: values of ``train.loggers`` (see pyro_vae.training.loggers): "csv" is metrics.csv, always written
LOGGERS = ("csv", "tensorboard")
#: fields of [data] that are options of the chosen source (see pyro_vae.data.DATASETS)
SOURCE_OPTIONS = (
    "root",
    "download",
    "path",
    "key",
    "label_key",
    "mmap",
    "label_column",
    "delimiter",
    "header",
    "image_size",
    "grayscale",
    "run",
    "resample",
)


@dataclass
class DataConfig:
    """Where the data comes from and how it is prepared.

    Source options (``root`` ... ``grayscale``) apply only to the sources whose
    loader takes them; setting one for another source is an error. Any other
    key of ``[data]`` is an option of the chosen source (``n = 300`` for
    ``shapes``), kept in ``source_options`` and checked against that source's
    options, so a new source needs no field here.
    """

    name: str = "digits"
    root: str | None = None
    download: bool | None = None
    path: str | None = None
    key: str | None = None
    label_key: str | None = None
    mmap: bool | None = None
    label_column: str | int | None = None
    delimiter: str | None = None
    header: bool | str | None = None  # csv: true, false or "auto" (the default)
    image_size: int | list[int] | None = None
    grayscale: bool | str | None = None  # image_folder: true, false (the default) or "auto"
    run: str | None = None
    resample: bool | None = None
    scale: float | str = "auto"
    binarize: str = "auto"
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    limit: int = 0
    labels: int | None = None
    shift: int = 0  # training images translated by up to this many pixels each time they are drawn
    # group kinds only: how training examples are put together ("label": members share a label column's
    # value; "pairs": pairs sharing shared_factors factors, 0 = a random number, Locatello et al. 2020)
    groups: str | None = None  # unset: "label" for the group kinds
    group_size: int | None = None  # unset: 2
    group_factor: int | None = None  # unset: 0
    shared_factors: int | None = None  # unset: 0
    source_options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def source_spec(self) -> dict[str, Any]:
        """The data source as a component spec: its name and the source options that are set."""
        options = {k: getattr(self, k) for k in SOURCE_OPTIONS if getattr(self, k) is not None}
        return {"name": self.name, **options, **self.source_options}


@dataclass
class ModelConfig:
    """What the VAE is made of: latent size and the named pluggable parts."""

    kind: str = "vae"
    z_dim: int = 2
    prior: ComponentSpec = "normal"
    likelihood: ComponentSpec = "bernoulli"
    network: ComponentSpec = "mlp"
    # read by kind "ss_vae" only; None means that kind's default
    factors: list[str] | None = None
    classifier: ComponentSpec | None = None
    alpha: float | None = None
    adversary: float | None = None
    consistency: float | None = None
    consistency_shift: int | None = None
    features: int | None = None
    # read by kind "vae" only: a binary block of this many bits beside z (a mixed model), and its prior
    bits: int | None = None
    bits_prior: ComponentSpec | None = None
    # options of other kinds (declared in pyro_vae.kinds), checked against the chosen kind by validate_config
    kind_options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def option(self, name: str) -> Any:
        """The value set for kind option ``name`` (a field or one of ``kind_options``), or ``None``."""
        if name in self.kind_options:
            return self.kind_options[name]
        return getattr(self, name, None) if name in _MODEL_FIELDS else None


@dataclass
class TrainConfig:
    """How the VAE is fitted."""

    epochs: int = 50
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: ComponentSpec = "adam"
    scheduler: ComponentSpec = "none"
    estimator: ComponentSpec = "auto"
    kl_warmup_epochs: float = 0.0
    patience: int = 10
    grad_clip: float = 0.0
    labelled_per_batch: int = 0
    # check every distribution's arguments and samples at every step (Pyro's validation; slower). The data's
    # support is checked once before training either way, and a non-finite loss is always divergence.
    validate_distributions: bool = False
    # divergence (pyro_vae.training.divergence): a step's loss per example above the first step's r by more
    # than divergence_factor * max(|r|, 1), or not finite; then "stop", or "rollback" to the last good epoch
    # with half the learning rate, at most max_rollbacks times
    on_divergence: str = "stop"
    max_rollbacks: int = 3
    divergence_factor: float = 100.0
    # where each epoch's figures go besides the checkpoint: "csv" (metrics.csv, always written) and
    # "tensorboard" (scalars and pictures under RUN_DIR/tensorboard; pip install 'pyro-vae[tensorboard]')
    loggers: list[str] = field(default_factory=lambda: ["csv"])
    # where the run computes: "auto" (CUDA when available, else the CPU), "cpu", "cuda", "cuda:N", "mps"
    device: str = "auto"
    # "32": float32 throughout; "bf16"/"16": the networks under autocast (the ELBO terms stay float32; "16"
    # adds a gradient scaler)
    precision: str | int = "32"  # 32 and 16 may come as numbers (TOML, --set): read as "32" and "16"
    # torch.compile the networks (falls back to eager, with a warning, where the backend is missing)
    compile: bool = False
    # several processes (torchrun, DDP): seconds a process waits for the others in a collective before it stops
    # with an error (a process that died is noticed at once; this bounds one that hangs)
    ddp_timeout: float = 300.0


@dataclass
class EvalConfig:
    """How the fitted VAE is evaluated."""

    samples: int = 1000
    batch_size: int = 100
    seed: int = 0
    workers: int = 1


@dataclass
class RunConfig:
    """A whole run: the four sections and the training seed.

    ``plugins`` names the plugin components the run uses and where they came from
    (``{"prior 'foo'": "plugin DIST (entry point ...)"}``), filled in by
    :func:`pyro_vae.config.resolve_config` (:func:`pyro_vae.plugins.plugins_used`).
    """

    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    plugins: dict[str, str] = field(default_factory=dict)


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
}


#: sections whose keys outside the schema are kept in one field: a data source's or a model kind's options
_EXTRA_OPTIONS: dict[type, str] = {DataConfig: "source_options", ModelConfig: "kind_options"}
_MODEL_FIELDS = frozenset(f.name for f in dataclasses.fields(ModelConfig))


def _type_name(hint: Any) -> str:
    if hint is ComponentSpec:
        return "a name or a table with a 'name' key"
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint) if a is not type(None))
    if origin is list:
        return f"a list of {_PLURALS[typing.get_args(hint)[0]]}"
    if origin is Mapping:
        return "a table with a 'name' key"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}[hint]


_PLURALS = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` (from TOML or Python) is acceptable for annotation ``hint``."""
    if hint is ComponentSpec:
        return isinstance(value, (str, Mapping))
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(hint))
    if origin is list:
        return isinstance(value, (list, tuple)) and all(_matches(v, typing.get_args(hint)[0]) for v in value)
    if origin is Mapping:  # the table form of an optional component spec
        return isinstance(value, Mapping)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _convert(value: Any, hint: Any) -> Any:
    """Normalise an accepted value: ints become floats in float fields, tuples lists (at any depth)."""
    if hint is float or (typing.get_origin(hint) in (Union, types.UnionType) and float in typing.get_args(hint)):
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
    return _plain(value)


def _plain(value: Any) -> Any:
    """Tuples become lists and mappings dicts, recursively, as TOML would read them back."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def unknown_key_error(where: str, key: str, valid: list[str]) -> ConfigError:
    """An error for an unknown configuration key, suggesting the closest valid one."""
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown key {where}{key!r}{hint}; valid keys: {', '.join(valid)}")


def _section_from_dict(name: str, cls: type, values: Mapping[str, Any]) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError(f"[{name}] must be a table of keys, got {values!r}")
    hints = typing.get_type_hints(cls)
    extra = _EXTRA_OPTIONS.get(cls)
    valid = [f.name for f in dataclasses.fields(cls) if f.name != extra]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if extra is not None and key not in valid:
            # an option of the chosen source or kind, checked against it by validate_config
            kwargs.setdefault(extra, {})[key] = _plain(value)
            continue
        if key not in hints:
            raise unknown_key_error(f"in [{name}]: ", key, valid)
        if not _matches(value, hints[key]):
            quote = " (on the command line, quote text: --set 'key=\"text\"')" if _matches("", hints[key]) else ""
            raise ConfigError(f"{name}.{key} must be {_type_name(hints[key])}, got {value!r}{quote}")
        kwargs[key] = _convert(value, hints[key])
    return cls(**kwargs)


def config_from_dict(values: Mapping[str, Any]) -> RunConfig:
    """Build a :class:`RunConfig` from nested plain data, rejecting unknown keys and bad types.

    Semantic checks (names in registries, ranges) are done by
    :func:`pyro_vae.config.validate_config`.
    """
    valid = ["seed", *SECTIONS, "plugins"]
    sections = {}
    for key, value in values.items():
        if key not in valid:
            raise unknown_key_error("", key, valid)
        if key in SECTIONS:
            sections[key] = _section_from_dict(key, SECTIONS[key], value)
    seed = values.get("seed", 0)
    if not _matches(seed, int):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    plugins = values.get("plugins", {})
    if not isinstance(plugins, Mapping) or not all(isinstance(v, str) for v in plugins.values()):
        raise ConfigError(f"plugins must be a table of component = origin strings, got {plugins!r}")
    return RunConfig(seed=seed, **sections, plugins=dict(plugins))


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """Nested plain data (``None`` fields left out), ready to write as TOML."""

    def strip(section: Any) -> dict[str, Any]:
        plain = {k: v for k, v in dataclasses.asdict(section).items() if v is not None}
        extra = plain.pop(_EXTRA_OPTIONS.get(type(section), ""), {})
        return {**plain, **extra}

    out: dict[str, Any] = {"seed": config.seed}
    for name in SECTIONS:
        out[name] = strip(getattr(config, name))
    if config.plugins:
        out["plugins"] = dict(config.plugins)
    return out
