"""Name -> factory registries for the pluggable parts (priors, likelihoods, ...).

A *component spec* names a registered factory and, optionally, its options::

    "mixture"                              # name only
    {"name": "mixture", "components": 10}  # name and options

The factory's keyword arguments are of two kinds: *context* that pyro-vae
supplies (``z_dim``, ``event_shape``, ...) and *options* the user may set.
Unknown names and unknown options are rejected eagerly with the valid choices, and so
is an option value outside the :class:`OptionRange` its factory was registered with
(checked by :meth:`Registry.check`, i.e. when the configuration is validated).
"""

from __future__ import annotations

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
    "UNIT",
    "ComponentSpec",
    "OptionRange",
    "Registry",
    "normalize_spec",
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
            return factory

        return decorator

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
