"""Which run a checkpoint belongs to: its fingerprint, and the checks made on every load.

A run's *identity* is what it keeps for its whole life: the config sections
``seed``, ``data`` and ``model`` (they fix the data, the parameters and their
shapes), the event shape and the classes of the data. Every checkpoint
carries a fingerprint of it (:func:`fingerprint`). When a checkpoint is
loaded, it is checked against

- its own fingerprint (a checkpoint whose config was altered is refused),
- the other checkpoint of the run (``best.pt`` against ``checkpoint.pt``),
- the run's ``config.toml`` (a checkpoint copied from another run, or a
  hand-edited ``config.toml``, is refused, naming the keys that differ),
- the model its config describes (every parameter present, with its shape).

Each failure is one :class:`~pyro_vae.errors.RunDirError` line naming the
files and what differs.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import torch

from pyro_vae._files import os_error
from pyro_vae.config import config_from_dict, config_to_dict, resolve_config
from pyro_vae.errors import PyroVAEError, RunDirError
from pyro_vae.registry import MissingComponentError

__all__ = [
    "IDENTITY_SECTIONS",
    "IDENTITY_VERSION",
    "check_config_file",
    "check_parameters",
    "check_same_run",
    "config_differences",
    "fingerprint",
]

#: bumped when what the fingerprint covers changes
IDENTITY_VERSION = 1
#: config sections a run never changes (``train`` and ``eval`` may change on ``--resume``)
IDENTITY_SECTIONS = ("seed", "data", "model")
#: differing keys named in one message
_SHOWN = 3


def fingerprint(state: Mapping[str, Any]) -> str:
    """A hash of a checkpoint's identity: its config's identity sections, event shape, classes and version."""
    config = state["config"]
    payload = {
        "version": IDENTITY_VERSION,
        "config": {section: config.get(section) for section in IDENTITY_SECTIONS},
        "event_shape": [int(n) for n in state["event_shape"]],
        "classes": list(state.get("classes", ())),
    }
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = list(value) if isinstance(value, tuple) else value
    return flat


def _normalized(config: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``config`` resolved and flattened (``model.z_dim`` -> 2), so defaults and spellings compare equal."""
    try:
        return _flatten(config_to_dict(resolve_config(config_from_dict(dict(config)))))
    except MissingComponentError:
        raise  # the config is fine: a component it names is not available (a plugin, your own network)
    except PyroVAEError as err:
        raise RunDirError(f"{where} does not hold a valid config ({err})") from None


def config_differences(
    a: Mapping[str, Any], b: Mapping[str, Any], sections: Collection[str] | None = None
) -> dict[str, tuple]:
    """``{key: (value in a, value in b)}`` for every key (of ``sections``; all if ``None``) that differs."""
    keys = sorted(k for k in a.keys() | b.keys() if sections is None or k.split(".")[0] in sections)
    absent = "(absent)"
    return {k: (a.get(k, absent), b.get(k, absent)) for k in keys if a.get(k, absent) != b.get(k, absent)}


def _describe(differences: Mapping[str, tuple], name_a: str, name_b: str) -> str:
    """``model.z_dim (4 in best.pt, 2 in config.toml)``, at most a few keys."""
    shown = [f"{k} ({json.dumps(a)} in {name_a}, {json.dumps(b)} in {name_b})" for k, (a, b) in differences.items()]
    more = len(shown) - _SHOWN
    return "; ".join(shown[:_SHOWN]) + (f"; and {more} more" if more > 0 else "")


def _identity(state: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A checkpoint's identity as a flat dict: the identity sections, event shape and classes."""
    flat = _normalized(state["config"], where)
    identity = {k: v for k, v in flat.items() if k.split(".")[0] in IDENTITY_SECTIONS}
    return identity | {"event_shape": list(state["event_shape"]), "classes": list(state.get("classes", ()))}


def check_same_run(path_a: Path, state_a: Mapping[str, Any], path_b: Path, state_b: Mapping[str, Any]) -> None:
    """Refuse two checkpoints (``best.pt``, ``checkpoint.pt``) whose identities differ."""
    if fingerprint(state_a) == fingerprint(state_b):
        return
    sections = (*IDENTITY_SECTIONS, "event_shape", "classes")
    differences = config_differences(_identity(state_a, str(path_a)), _identity(state_b, str(path_b)), sections)
    raise RunDirError(
        f"{path_a.name} and {path_b.name} in {str(path_a.parent)!r} belong to different runs: "
        f"{_describe(differences, path_a.name, path_b.name) or 'their fingerprints differ'} "
        "(one was copied from another run): restore the run's own files, or start a new run"
    )


def _read_config_file(path: Path) -> dict[str, Any] | None:
    """The flat, resolved config in ``config.toml`` (``None`` if the run has none)."""
    if not path.exists():
        return None
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise os_error("read", path, err) from err
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise RunDirError(f"{str(path)!r} cannot be read ({err}): restore the run's config.toml") from None
    return _normalized(raw, repr(str(path)))


def check_config_file(
    config_path: Path,
    path: Path,
    state: Mapping[str, Any],
    sections: Collection[str] | None = IDENTITY_SECTIONS,
    overridden: Collection[str] = (),
) -> None:
    """Refuse a checkpoint whose config differs from the run's ``config.toml`` in ``sections`` (``None``: all).

    Keys set again on this resume (``overridden``, e.g. ``train.lr`` or a whole
    ``train.scheduler``) may differ. A missing ``config.toml`` is not checked.
    """
    on_disk = _read_config_file(config_path)
    if on_disk is None:
        return
    saved = _normalized(state["config"], repr(str(path)))
    differences = config_differences(on_disk, saved, sections)
    differences = {k: v for k, v in differences.items() if not _is_under(k, overridden)}
    if not differences:
        return
    if any(k.split(".")[0] in IDENTITY_SECTIONS for k in differences):
        raise RunDirError(
            f"{config_path.name} and {path.name} in {str(path.parent)!r} disagree: "
            f"{_describe(differences, config_path.name, path.name)}; {path.name} was copied from another run, "
            "or config.toml was edited: restore the run's own files (pyro-vae will not guess which is right)"
        )
    fix = " ".join(f"--set {k}={json.dumps(a)}" for k, (a, _) in differences.items())
    raise RunDirError(
        f"{config_path.name} in {str(path.parent)!r} differs from {path.name}: "
        f"{_describe(differences, config_path.name, path.name)}; a resume takes its settings from {path.name} "
        f"and --set, not from an edited config.toml: pass {fix} to use config.toml's values"
    )


def _is_under(key: str, prefixes: Collection[str]) -> bool:
    """Whether ``key`` is one of ``prefixes`` or inside one (``train.scheduler.name`` under ``train.scheduler``)."""
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def check_parameters(module: torch.nn.Module, tensors: Mapping[str, Any], path: Path) -> None:
    """Refuse ``tensors`` unless they are exactly ``module``'s parameters and buffers, with their shapes."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in tensors.items() if isinstance(v, torch.Tensor)}
    wrong = [k for k in expected if k in found and found[k] != expected[k]]
    if wrong:
        k = wrong[0]
        raise RunDirError(
            f"checkpoint {str(path)!r} does not fit its config: {k!r} has shape {list(found[k])} there, but the "
            f"model the config describes needs {list(expected[k])} ({len(wrong)} tensor(s) differ)"
        )
    missing, extra = sorted(expected.keys() - found.keys()), sorted(tensors.keys() - expected.keys())
    if missing or extra:
        what = f"lacks {missing[:_SHOWN]}" if missing else f"holds {extra[:_SHOWN]}, which the model does not have"
        raise RunDirError(
            f"checkpoint {str(path)!r} does not fit its config: it {what} "
            f"({len(missing)} missing, {len(extra)} unexpected tensors)"
        )
