"""Name -> factory registries for the pluggable parts (priors, likelihoods, ...).

A *component spec* names a registered factory and, optionally, its options::

    "mixture"                              # name only
    {"name": "mixture", "components": 10}  # name and options

The factory's keyword arguments are of two kinds: *context* that pyro-vae
supplies (``z_dim``, ``event_shape``, ...) and *options* the user may set.
Unknown names and unknown options are rejected eagerly with the valid choices, and so
is an option value outside the :class:`OptionRange` its factory was registered with
(checked by :meth:`Registry.check`, i.e. when the configuration is validated).

Other packages add components as *plugins* (:mod:`pyro_vae.plugins` loads them); each
registry remembers which plugin gave which name (:meth:`Registry.origin`, set while
:func:`registering_as` is active). A name only a Python caller can give (your own network)
is explained, not called unknown, when absent (:meth:`Registry.explain_absent`,
:class:`MissingComponentError`).
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import inspect
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pyro_vae.errors import ConfigError

__all__ = [
    "BOOLEAN",
    "FINITE",
    "FRACTION",
    "NON_NEGATIVE",
    "POSITIVE",
    "POSITIVE_INT",
    "REGISTRIES",
    "UNIT",
    "ComponentSpec",
    "MissingComponentError",
    "OptionRange",
    "Registry",
    "normalize_spec",
    "registering_as",
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
#: the plugin being imported while its components register (``None``: pyro-vae's own)
_LOADING: contextvars.ContextVar[str | None] = contextvars.ContextVar("pyro_vae_plugin", default=None)


@contextlib.contextmanager
def registering_as(origin: str) -> Iterator[None]:
    """Mark what registers while the block runs as ``origin``'s (a plugin: see :mod:`pyro_vae.plugins`)."""
    token = _LOADING.set(origin)
    try:
        yield
    finally:
        _LOADING.reset(token)


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

    def origins(self) -> dict[str, str]:
        """Every name a plugin registered, with its origin."""
        return dict(self._origins)

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
                    f"{self._other_names_taking(key, name)}"
                )
            bound = self._ranges[name].get(key)
            if bound is not None and not bound.accepts(value):
                raise ConfigError(f"{self.kind} {name!r}: option {key!r} must be {bound.description}, got {value!r}")
        return spec

    def _other_names_taking(self, key: str, name: str) -> str:
        """``"; it is an option of a, b (...)"`` naming the other components that take ``key``, or ``""``."""
        others = [other for other in self._factories if other != name and key in self.options(other)]
        if not others:
            return ""
        return f"; it is an option of {', '.join(others)} (set the name to one of them)"

    def build(self, spec: ComponentSpec, **context: Any) -> T:
        """Build the component ``spec`` names, passing its options and ``context``."""
        spec = self.check(spec)
        options = {k: v for k, v in spec.items() if k != "name"}
        factory = self.get(spec["name"])
        accepted = inspect.signature(factory).parameters
        context = {k: v for k, v in context.items() if k in accepted}
        return factory(**context, **options)


class MissingComponentError(ConfigError):
    """A saved run names a component that is not available now.

    A plugin's that is not loaded (:func:`pyro_vae.plugins.check_plugins`), or one only a Python caller can give
    (:meth:`Registry.explain_absent`).
    """
