"""The model-kind registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyro_vae.data.shape import DataShape
from pyro_vae.registry import Registry

if TYPE_CHECKING:
    from pyro_vae.config.schema import ModelConfig
    from pyro_vae.vae import VAE

__all__ = ["MODEL_KINDS", "DataShape", "ModelKind"]


@dataclass(frozen=True)
class ModelKind:
    """A kind of model.

    Attributes
    ----------
    build
        Builds the model/guide wrapper from ``[model]`` and the data's shape.
    default_estimator
        What ``train.estimator = "auto"`` means for this kind.
    uses_labels
        Training batches pass their labels to the model and guide (semi-supervised).
    options
        ``[model]`` fields that only this kind reads (others must leave them unset).
    defaults
        Dotted configuration keys (``"model.likelihood"``) this kind sets when the
        configuration leaves them out, each a value or a function of the whole
        configuration (a nested dict, before validation) returning one.
    """

    build: Callable[[ModelConfig, DataShape], VAE]
    default_estimator: str = "trace"
    uses_labels: bool = False
    options: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)


MODEL_KINDS: Registry[ModelKind] = Registry("model kind")
