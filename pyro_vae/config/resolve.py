"""One entry point from any configuration input to a validated :class:`RunConfig`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from pyro_vae.config.overrides import apply_overrides, merge_keywords
from pyro_vae.config.schema import ModelConfig, RunConfig, config_from_dict, config_to_dict
from pyro_vae.config.toml_io import read_toml
from pyro_vae.config.validate import validate_config
from pyro_vae.errors import ConfigError
from pyro_vae.kinds import MODEL_KINDS
from pyro_vae.plugins import check_plugins, load_plugins, plugins_used

__all__ = ["ConfigSource", "resolve_config"]

ConfigSource = RunConfig | Mapping[str, Any] | str | os.PathLike[str] | None


def _as_dict(source: ConfigSource) -> dict[str, Any]:
    if source is None:
        return {}
    if isinstance(source, RunConfig):
        return config_to_dict(source)
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, (str, os.PathLike)):
        return read_toml(source)
    raise ConfigError(f"config must be a TOML path, a dict or a RunConfig, got {type(source).__name__}")


def resolve_config(source: ConfigSource = None, overrides: Iterable[str] = (), **keywords: Any) -> RunConfig:
    """Layer ``source``, Python ``keywords`` and ``--set`` style ``overrides``, then validate.

    Installed plugins are loaded first (:func:`~pyro_vae.plugins.load_plugins`); the plugins a
    saved configuration names must be present (:func:`~pyro_vae.plugins.check_plugins`), and the
    result names those it uses (``RunConfig.plugins``).

    Parameters
    ----------
    source
        A TOML file, nested dict or :class:`RunConfig`; ``None`` starts from the defaults.
    overrides
        ``"key=value"`` strings applied last (``"model.prior=mixture"``): each field before its options,
        whatever their order, and among the rest the last one wins.
    **keywords
        Python keyword arguments (see :func:`pyro_vae.config.merge_keywords`).
    """
    load_plugins()
    values = merge_keywords(_as_dict(source), keywords)
    apply_overrides(values, overrides)
    config = config_from_dict(_with_kind_defaults(values))
    check_plugins(config.plugins)  # a saved run's, before its names are looked up
    config = validate_config(config)
    return replace(config, plugins=plugins_used(config_to_dict(config)))


def _with_kind_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the keys the model kind sets when they are left out (:attr:`ModelKind.defaults`) filled in."""
    model = values.get("model", {})
    kind = model.get("kind", ModelConfig.kind) if isinstance(model, dict) else None
    if kind not in MODEL_KINDS.names():
        return values  # validation names the problem
    values = dict(values)
    for key, default in MODEL_KINDS.get(kind).defaults.items():
        section, name = key.split(".")
        part = values.get(section, {})
        if isinstance(part, dict) and name not in part:
            values[section] = {**part, name: default(config_from_dict(values)) if callable(default) else default}
    return values
