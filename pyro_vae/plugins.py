"""Plugins: components of other packages (entry points in ``pyro_vae.plugins``) and of ``--import`` scripts.

A plugin names, under the entry-point group :data:`PLUGIN_GROUP`, a module that registers
components in pyro-vae's registries when imported (or a function, called with no arguments):
:func:`load_plugins` imports every installed one (``importlib.metadata``), :func:`import_plugin`
a module or a ``.py`` file for one run (``--import``). What they register is marked with where
it came from (:func:`~pyro_vae.registry.registering_as`), so a run records the plugin components
it uses (:func:`plugins_used`, ``RunConfig.plugins``) and a resume asks for them (:func:`check_plugins`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pyro_vae.errors import ConfigError, InputNotice
from pyro_vae.registry import REGISTRIES, MissingComponentError, registering_as

__all__ = ["PLUGIN_GROUP", "check_plugins", "import_plugin", "load_plugins", "plugins_used"]

#: the entry-point group third-party packages register their components under
PLUGIN_GROUP = "pyro_vae.plugins"
#: plugins imported so far, by where they came from
_LOADED: dict[str, str] = {}
#: the import paths (``sys.path``) whose installed plugins were looked for (a scan takes ~16 ms)
_SCANNED: set[tuple[str, ...]] = set()


def _load(key: str, origin: str, load: Callable[[], Any]) -> None:
    """Run ``load`` (an import) once per ``key``, with the components it registers marked as ``origin``'s."""
    if key in _LOADED:
        return
    with registering_as(origin):
        loaded = load()
        if callable(loaded) and not inspect.ismodule(loaded):
            loaded()
    _LOADED[key] = origin


def load_plugins() -> list[str]:
    """Import every installed plugin (entry points in :data:`PLUGIN_GROUP`) not imported yet; returns all loaded.

    A plugin that fails to import is reported as a one-line :class:`~pyro_vae.errors.InputNotice`
    warning and skipped: a run that needs its components then fails naming them. Installed
    packages are looked for once per ``sys.path``.
    """
    if tuple(sys.path) in _SCANNED:
        return sorted(_LOADED.values())
    _SCANNED.add(tuple(sys.path))
    for entry in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        dist = entry.dist.name if entry.dist is not None else "?"
        origin = f"plugin {dist} (entry point {entry.name} = {entry.value})"
        try:
            _load(f"entry:{entry.value}", origin, entry.load)
        except Exception as err:  # a third party's code: any failure is reported, not raised
            message = str(err).splitlines()[0] if str(err) else ""
            warnings.warn(
                InputNotice(f"{origin} failed to load ({type(err).__name__}: {message}); skipped"), stacklevel=2
            )
    return sorted(_LOADED.values())


def import_plugin(target: str) -> str:
    """Import a module by name, or a ``.py`` file, whose imports register components; returns its origin.

    Raises
    ------
    ConfigError
        If the file or module does not exist or fails to import (with the error's first line).
    """
    path = Path(target).expanduser()
    is_file = path.suffix == ".py" or path.is_file()
    origin = f"script {path.resolve()}" if is_file else f"module {target}"
    if is_file and not path.is_file():
        raise ConfigError(f"--import {target!r}: no such file")
    try:
        _load(origin, origin, (lambda: _import_file(path)) if is_file else (lambda: importlib.import_module(target)))
    except ConfigError:
        raise
    except Exception as err:  # the user's code: reported in one line
        message = str(err).splitlines()[0] if str(err) else ""
        raise ConfigError(f"--import {target!r} failed: {type(err).__name__}: {message}") from err
    return origin


def _import_file(path: Path) -> Any:
    """Execute ``path`` as a module named after it (``pyro_vae_import_STEM``)."""
    name = f"pyro_vae_import_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"--import {str(path)!r}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _strings(value: Any) -> Iterator[str]:
    """Every string in nested plain data (dict values, list items)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def plugins_used(config: Mapping[str, Any]) -> dict[str, str]:
    """The plugin components a configuration (plain data) names: ``{"prior 'foo'": "plugin DIST (...)"}``."""
    named = set(_strings({k: v for k, v in config.items() if k != "plugins"}))
    return {
        f"{registry.kind} {name!r}": origin
        for registry in REGISTRIES
        for name, origin in registry.origins().items()
        if name in named
    }


def check_plugins(needed: Mapping[str, str]) -> None:
    """Refuse a run whose plugin components (as :func:`plugins_used` recorded them) are not registered now."""
    present = {f"{registry.kind} {name!r}" for registry in REGISTRIES for name in registry.names()}
    missing = {component: origin for component, origin in needed.items() if component not in present}
    if missing:
        listed = "; ".join(f"{component} from {origin}" for component, origin in missing.items())
        raise MissingComponentError(
            f"this run needs components from plugins that are not loaded: {listed}: install the plugin package "
            "(pip install ...), or pass --import MODULE_OR_FILE.py with the script that registers them"
        )
