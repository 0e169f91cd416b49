"""The model-kind table: names, options and defaults, and where each kind's builder lives.

A kind is declared here by data alone; its implementation (wrapper, builder,
pictures) is imported only when a model of that kind is built, so checking a
configuration never imports model code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pyro_vae.errors import ConfigError
from pyro_vae.kinds._shape import DataShape
from pyro_vae.registry import Registry

if TYPE_CHECKING:
    from pyro_vae.config.schema import ModelConfig
    from pyro_vae.vae import VAE

__all__ = ["MODEL_KINDS", "ModelKind"]


@dataclass(frozen=True)
class ModelKind:
    """A kind of model, declared without importing it.

    Attributes
    ----------
    builder
        ``"module:function"``: the function ``(ModelConfig, DataShape) -> VAE`` that
        builds the model/guide wrapper, imported on first use.
    default_estimator
        What ``train.estimator = "auto"`` means for this kind.
    uses_labels
        Training batches pass their labels to the model and guide (semi-supervised).
    options
        ``[model]`` fields that only this kind reads (others must leave them unset),
        with the value each takes when left unset.
    """

    builder: str
    default_estimator: str = "trace"
    uses_labels: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        module, _, name = self.builder.partition(":")
        if not module or not name:
            raise ValueError(f"ModelKind.builder must be 'module:function', got {self.builder!r}")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def builder_function(self) -> Callable[[ModelConfig, DataShape], VAE]:
        """Import and return the builder (a clear error if the declared module or function is missing)."""
        module, _, name = self.builder.partition(":")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as error:
            raise ConfigError(f"model kind builder {self.builder!r} cannot be imported: {error}") from None

    def build(self, config: ModelConfig, shape: DataShape) -> VAE:
        """Build the wrapper ``config`` describes for data of ``shape``."""
        return self.builder_function()(config, shape)


MODEL_KINDS: Registry[ModelKind] = Registry("model kind")
