"""Name -> factory registries for the pluggable parts (priors, likelihoods, ...).

A *component spec* names a registered factory and, optionally, its options::

    "mixture"                              # name only
    {"name": "mixture", "components": 10}  # name and options

The factory's keyword arguments are of two kinds: *context* that pyro-vae
supplies (``z_dim``, ``event_shape``, ...) and *options* the user may set.
Unknown names and unknown options are rejected eagerly with the valid choices, and so
is an option value outside the :class:`OptionRange` its factory was registered with
(checked by :meth:`Registry.check`, i.e. when the configuration is validated).

Other packages add components as *plugins*: an entry point in the group ``pyro_vae.plugins``
(:data:`PLUGIN_GROUP`) names a module that registers them when imported (or a function,
called with no arguments); :func:`load_plugins` imports every installed one, and
:func:`import_plugin` a module or a ``.py`` file for one run (``--import``). Each registry
remembers which plugin gave which name (:meth:`Registry.origin`), so a run can record the
plugins it needs (:func:`plugins_used`) and a resume can ask for them (:func:`check_plugins`).
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import importlib
import importlib.metadata
import importlib.util
import inspect
import math
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pyro_vae.errors import ConfigError, InputNotice

__all__ = [
    "BOOLEAN",
    "FINITE",
    "FRACTION",
    "NON_NEGATIVE",
    "PLUGIN_GROUP",
    "POSITIVE",
    "POSITIVE_INT",
    "REGISTRIES",
    "UNIT",
    "ComponentSpec",
    "MissingComponentError",
    "OptionRange",
    "Registry",
    "check_plugins",
    "import_plugin",
    "load_plugins",
    "normalize_spec",
    "plugins_used",
]

T = TypeVar("T")
ComponentSpec = str | Mapping[str, Any]


@dataclass(frozen=True)
class OptionRange:
    """The values a numeric (or boolean) option accepts: a test and the words for the error message."""

    description: str
    accepts: Callable[[object], bool]


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


FINITE = OptionRange("a finite number", _number)
NON_NEGATIVE = OptionRange("a non-negative number", lambda v: _number(v) and v >= 0)
POSITIVE = OptionRange("a positive number", lambda v: _number(v) and v > 0)
POSITIVE_INT = OptionRange("a positive integer", lambda v: _integer(v) and v >= 1)
#: a decay factor: (0, 1]
UNIT = OptionRange("a number in (0, 1]", lambda v: _number(v) and 0 < v <= 1)
#: a momentum or moving-average weight: [0, 1)
FRACTION = OptionRange("a number in [0, 1)", lambda v: _number(v) and 0 <= v < 1)
BOOLEAN = OptionRange("true or false", lambda v: isinstance(v, bool))


def normalize_spec(spec: ComponentSpec, kind: str) -> dict[str, Any]:
    """Return ``spec`` as a ``{"name": ..., **options}`` dict (a new one)."""
    if isinstance(spec, str):
        return {"name": spec}
    if isinstance(spec, Mapping):
        if "name" not in spec or not isinstance(spec["name"], str):
            raise ConfigError(
                f"{kind} spec {dict(spec)!r} has no 'name': write it as "
                f'{{name = "...", option = value}} or as a plain name string'
            )
        return dict(spec)
    raise ConfigError(f"{kind} must be a name or a table with a 'name' key, got {type(spec).__name__} {spec!r}")


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


#: every registry made (priors, likelihoods, networks, estimators, data sources, ...), for plugin bookkeeping
REGISTRIES: list[Registry[Any]] = []  # filled as each Registry is made
#: the entry-point group third-party packages register their components under
PLUGIN_GROUP = "pyro_vae.plugins"
#: the plugin being imported while its components register (``None``: pyro-vae's own)
_LOADING: contextvars.ContextVar[str | None] = contextvars.ContextVar("pyro_vae_plugin", default=None)
#: plugins imported so far, by where they came from
_LOADED: dict[str, str] = {}
#: the import paths (``sys.path``) whose installed plugins were looked for (a scan takes ~16 ms)
_SCANNED: set[tuple[str, ...]] = set()


class Registry(Generic[T]):
    """A mapping from names to factories of one kind of component.

    Parameters
    ----------
    kind
        What the registry holds, used in error messages (``"prior"``).
    context
        Names of factory keyword arguments that pyro-vae supplies itself;
        they are never user options.
    """

    def __init__(self, kind: str, context: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.context = frozenset(context)
        self._factories: dict[str, Callable[..., T]] = {}
        self._ranges: dict[str, Mapping[str, OptionRange]] = {}
        self._origins: dict[str, str] = {}
        self._absent: dict[str, Callable[[dict[str, Any]], str]] = {}
        REGISTRIES.append(self)

    def register(
        self, name: str, ranges: Mapping[str, OptionRange] | None = None
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering ``factory`` under ``name``; ``ranges`` bound its options' values."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            if ranges and set(ranges) - set(inspect.signature(factory).parameters):
                raise ValueError(f"{self.kind} {name!r}: ranges for options it does not take: {sorted(ranges)}")
            self._factories[name] = factory
            self._ranges[name] = dict(ranges or {})
            if (origin := _LOADING.get()) is not None:
                self._origins[name] = origin
            return factory

        return decorator

    def explain_absent(self, name: str, explain: Callable[[dict[str, Any]], str]) -> None:
        """While ``name`` is not registered, a spec naming it fails with ``explain(spec)`` (not "unknown name")."""
        self._absent[name] = explain

    def origin(self, name: str) -> str | None:
        """The plugin that registered ``name`` (``"plugin DIST (entry point ...)"``, ``"script PATH"``), or ``None``."""
        return self._origins.get(name)

    @contextlib.contextmanager
    def override(self, name: str, factory: Callable[..., T]) -> Iterator[None]:
        """Let ``factory`` stand for ``name`` (its options unbounded) while the block runs; then restore the old one."""
        saved = self._factories.get(name), self._ranges.get(name)
        self._factories[name], self._ranges[name] = factory, {}
        try:
            yield
        finally:
            if saved[0] is None:
                del self._factories[name], self._ranges[name]
            else:
                self._factories[name], self._ranges[name] = saved

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``; a clear error otherwise."""
        try:
            return self._factories[name]
        except KeyError:
            if name in self._absent:
                raise MissingComponentError(self._absent[name]({"name": name})) from None
            raise ConfigError(
                f"unknown {self.kind} {name!r}{_suggest(name, self.names())}; "
                f"valid {self.kind} names: {', '.join(self.names())}"
            ) from None

    def options(self, name: str) -> dict[str, Any]:
        """The user options of ``name`` with their defaults (``inspect.Parameter.empty`` if none)."""
        params = inspect.signature(self.get(name)).parameters
        return {
            key: p.default
            for key, p in params.items()
            if key not in self.context and p.kind is not inspect.Parameter.VAR_KEYWORD
        }

    def ranges(self, name: str) -> dict[str, OptionRange]:
        """The value ranges ``name`` was registered with, by option."""
        self.get(name)
        return dict(self._ranges[name])

    def check(self, spec: ComponentSpec) -> dict[str, Any]:
        """Validate the name, option names and option values (their ranges) of ``spec``; return it normalized."""
        spec = normalize_spec(spec, self.kind)
        name = spec["name"]
        if name not in self._factories and name in self._absent:
            raise MissingComponentError(self._absent[name](spec))
        valid = self.options(name)
        for key, value in spec.items():
            if key != "name" and key not in valid:
                listed = ", ".join(valid) if valid else "none"
                raise ConfigError(
                    f"{self.kind} {name!r} has no option {key!r}{_suggest(key, list(valid))}; its options are: {listed}"
                )
            bound = self._ranges[name].get(key)
            if bound is not None and not bound.accepts(value):
                raise ConfigError(f"{self.kind} {name!r}: option {key!r} must be {bound.description}, got {value!r}")
        return spec

    def build(self, spec: ComponentSpec, **context: Any) -> T:
        """Build the component ``spec`` names, passing its options and ``context``."""
        spec = self.check(spec)
        options = {k: v for k, v in spec.items() if k != "name"}
        factory = self.get(spec["name"])
        accepted = inspect.signature(factory).parameters
        context = {k: v for k, v in context.items() if k in accepted}
        return factory(**context, **options)


def _load(key: str, origin: str, load: Callable[[], Any]) -> None:
    """Run ``load`` (an import) once per ``key``, with the components it registers marked as ``origin``'s."""
    if key in _LOADED:
        return
    token = _LOADING.set(origin)
    try:
        loaded = load()
        if callable(loaded) and not inspect.ismodule(loaded):
            loaded()
    finally:
        _LOADING.reset(token)
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
        for name, origin in registry._origins.items()
        if name in named
    }


class MissingComponentError(ConfigError):
    """A saved run names a component that is not available now.

    A plugin's that is not loaded (:func:`check_plugins`), or one only a Python caller can give
    (:meth:`Registry.explain_absent`).
    """


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
