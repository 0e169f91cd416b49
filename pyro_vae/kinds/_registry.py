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
    from pyro_vae.config.schema import ModelConfig, RunConfig
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
    nested_plates
        Training batches are groups (a plate of members inside a plate of groups), so
        estimators that draw particles over one data plate do not apply.
    check
        ``"module:function"`` called with the whole ``RunConfig`` and the data's
        ``DataShape`` before the model is built (raises on what the data cannot
        satisfy), or ``None``.
    own_programs
        The model and guide are the user's own Pyro programs, handed in from Python (not built from the
        configuration); estimators that compile pyro-vae's programs do not apply.
    defaults
        Dotted configuration keys (``"model.likelihood"``) this kind sets when the
        configuration leaves them out, each a value or a function of the configuration
        (a ``RunConfig`` with the schema's defaults, before validation) returning one.
    """

    builder: str
    default_estimator: str = "trace"
    uses_labels: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    check: str | None = None
    nested_plates: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)
    own_programs: bool = False

    def __post_init__(self) -> None:
        for path in (self.builder, self.check or "check:ok"):
            module, _, name = path.partition(":")
            if not module or not name:
                raise ValueError(f"ModelKind.builder and .check must be 'module:function', got {path!r}")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def builder_function(self) -> Callable[[ModelConfig, DataShape], VAE]:
        """Import and return the builder (a clear error if the declared module or function is missing)."""
        return _load(self.builder)

    def build(self, config: ModelConfig, shape: DataShape) -> VAE:
        """Build the wrapper ``config`` describes for data of ``shape``."""
        return self.builder_function()(config, shape)

    def check_run(self, config: RunConfig, shape: DataShape) -> None:
        """Run the kind's check of the whole configuration against the data (e.g. its grouping), if it has one."""
        if self.check is not None:
            _load(self.check)(config, shape)


def _load(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"model kind builder {path!r} cannot be imported: {error}") from None


MODEL_KINDS: Registry[ModelKind] = Registry("model kind")
