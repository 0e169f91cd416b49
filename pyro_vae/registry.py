"""Name -> factory registries for the pluggable parts (priors, likelihoods, ...).

A *component spec* names a registered factory and, optionally, its options::

    "mixture"                              # name only
    {"name": "mixture", "components": 10}  # name and options

The factory's keyword arguments are of two kinds: *context* that pyro-vae
supplies (``z_dim``, ``event_shape``, ...) and *options* the user may set.
Unknown names and unknown options are rejected eagerly with the valid choices.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from pyro_vae.errors import ConfigError

__all__ = ["ComponentSpec", "Registry", "normalize_spec"]

T = TypeVar("T")
ComponentSpec = str | Mapping[str, Any]


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

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering ``factory`` under ``name``."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._factories[name] = factory
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

    def check(self, spec: ComponentSpec) -> dict[str, Any]:
        """Validate the name and option names of ``spec``; return it normalized."""
        spec = normalize_spec(spec, self.kind)
        name = spec["name"]
        valid = self.options(name)
        for key in spec:
            if key != "name" and key not in valid:
                listed = ", ".join(valid) if valid else "none"
                raise ConfigError(
                    f"{self.kind} {name!r} has no option {key!r}{_suggest(key, list(valid))}; its options are: {listed}"
                )
        return spec

    def build(self, spec: ComponentSpec, **context: Any) -> T:
        """Build the component ``spec`` names, passing its options and ``context``."""
        spec = self.check(spec)
        options = {k: v for k, v in spec.items() if k != "name"}
        factory = self.get(spec["name"])
        accepted = inspect.signature(factory).parameters
        context = {k: v for k, v in context.items() if k in accepted}
        return factory(**context, **options)
