"""Merging configuration layers: defaults, a TOML file, Python keywords, ``--set key=value``."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import math
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from pyro_vae.config.schema import SECTIONS, unknown_key_error
from pyro_vae.errors import ConfigError

__all__ = ["apply_override", "apply_overrides", "in_layer_order", "merge_keywords", "parse_assignment"]


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``"key=value"``; the value is read as TOML (``10``, ``true``, ``[1, 2]``) or else kept as text."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects key=value (e.g. model.z_dim=10), got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return key, raw.strip()
    # no config field takes a date, a time or a non-finite number: such text is a name or a path
    if isinstance(value, (datetime.date, datetime.time)) or (isinstance(value, float) and not math.isfinite(value)):
        return key, raw.strip()
    return key, value


def apply_override(values: dict[str, Any], key: str, value: Any) -> None:
    """Set dotted ``key`` in nested ``values`` in place.

    ``section.field`` sets a field; ``section.field.option`` sets an option of a
    named component (``model.prior.components=10``), turning a plain name into
    a table.
    """
    parts = key.split(".")
    if len(parts) == 1:
        values[key] = value
        return
    section = values.setdefault(parts[0], {})
    if not isinstance(section, dict):
        raise ConfigError(f"cannot set {key!r}: {parts[0]!r} is not a section")
    if len(parts) == 2:
        section[parts[1]] = _renamed(section.get(parts[1]), value)
    elif len(parts) == 3:
        _check_field(parts[0], parts[1])
        spec = section.get(parts[1], _default(parts[0], parts[1]))
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, dict):
            raise ConfigError(f"cannot set {key!r}: {parts[0]}.{parts[1]} is not a named component with options")
        section[parts[1]] = {**spec, parts[2]: value}
    else:
        raise ConfigError(f"cannot set {key!r}: keys have at most three parts (section.field.option)")


def _renamed(current: Any, value: Any) -> Any:
    """``value`` for a field; naming the component a table already names keeps that table's options."""
    if isinstance(current, Mapping) and isinstance(value, str) and current.get("name") == value:
        return current
    return value


def in_layer_order(assignments: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``(key, value)`` pairs of one layer, fields before their options: the order they came in does not matter.

    ``model.prior.components=3`` given before ``model.prior=mixture`` is applied after it: the
    option lands on the mixture (and a misspelt option is refused there) instead of being dropped
    with the table it was first set on. Pairs of the same depth keep their order (the last one wins).
    """
    return sorted(assignments, key=lambda pair: pair[0].count("."))


def apply_overrides(values: dict[str, Any], overrides: Iterable[str]) -> None:
    """Apply ``--set`` style ``"key=value"`` strings to ``values`` in place, in :func:`in_layer_order`."""
    for key, value in in_layer_order(parse_assignment(text) for text in overrides):
        apply_override(values, key, value)


def _check_field(section: str, name: str) -> None:
    """Raise the usual unknown-key error if ``section.name`` is not a configuration field."""
    if section not in SECTIONS:
        raise unknown_key_error("", section, ["seed", *SECTIONS])
    valid = [f.name for f in dataclasses.fields(SECTIONS[section])]
    if name not in valid:
        raise unknown_key_error(f"in [{section}]: ", name, valid)


def _default(section: str, name: str) -> Any:
    """The default of field ``name`` of ``section`` (``None`` if there is no such field)."""
    fields = {f.name: f for f in dataclasses.fields(SECTIONS.get(section, object))} if section in SECTIONS else {}
    return fields[name].default if name in fields else None


def _flat_index() -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            index.setdefault(f.name, []).append(section)
    return index


def merge_keywords(values: Mapping[str, Any], keywords: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``values`` updated with Python keyword arguments.

    A keyword is a whole section (``train={"epochs": 5}``, merged key by key),
    the top-level ``seed``, a dotted key given through ``**{"data.root": ...}``,
    or a field name (``prior="mixture"``). A field name found in several
    sections means the ``[train]`` one (``batch_size``); reach the others by
    section or dotted key (``eval={"batch_size": 500}``).
    """
    out = copy.deepcopy(dict(values))
    index = _flat_index()
    for key, value in in_layer_order(keywords.items()):
        if key in SECTIONS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{key}= must be a table (a dict) of [{key}] keys, e.g. {key}={{...}}; got {value!r}")
            section = out.setdefault(key, {})
            section.update({name: _renamed(section.get(name), v) for name, v in value.items()})
        elif key == "seed" or "." in key:
            apply_override(out, key, value)
        elif key in index and (len(index[key]) == 1 or "train" in index[key]):
            section = "train" if "train" in index[key] else index[key][0]
            apply_override(out, f"{section}.{key}", value)
        elif key in index:
            where = " and ".join(f"[{s}]" for s in index[key])
            raise ConfigError(
                f"{key!r} is a key of {where}: pass it as {index[key][0]}={{{key!r}: ...}} "
                f"or as **{{'{index[key][0]}.{key}': ...}}"
            )
        else:
            raise unknown_key_error("", key, sorted({"seed", *SECTIONS, *index}))
    return out
