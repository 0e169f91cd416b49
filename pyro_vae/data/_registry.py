"""The data-source registry and the raw data every source returns."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from pyro_vae.data.mapped import MappedRows
from pyro_vae.registry import Registry

__all__ = ["DATASETS", "RawData"]


@dataclass
class RawData:
    """Examples as a source delivers them, before scaling, splitting and binarizing.

    Attributes
    ----------
    x
        Examples, shape ``(N, *event_shape)``, float32; or rows of a memory-mapped
        file read a batch at a time (:class:`~pyro_vae.data.mapped.MappedRows`).
    labels
        Integer class labels, ``(N,)`` or ``(N, K)`` for ``K`` factors, ``-1`` where
        missing; or ``None``.
    val_x, val_labels
        The source's own validation split, if it has one (``fit(val_data=...)``).
    test_x, test_labels
        The source's own test split, if it has one (MNIST does, a file does not).
    auto_scale
        What ``data.scale = "auto"`` divides by (255 for 8-bit images, 16 for
        the digits, 1 for data that should be left as it is).
    noise
        Per-value standard deviation with which training examples are resampled
        each epoch (features from a VAE encoder), or ``None``.
    """

    x: Tensor | MappedRows
    labels: Tensor | None = None
    val_x: Tensor | None = None
    val_labels: Tensor | None = None
    test_x: Tensor | None = None
    test_labels: Tensor | None = None
    auto_scale: float = 1.0
    noise: Tensor | None = None


#: sources take their options as keyword arguments; ``array`` and ``labels`` (and ``val``, ``test``)
#: carry in-memory data given to :func:`pyro_vae.fit`, ``open_run`` opens a fitted
#: run for ``vae_features`` (see :class:`pyro_vae.data.features.FittedEncoder`); ``limit`` is ``data.limit``
#: for a source that must apply it while reading (a stream keeps its first ``limit`` examples)
DATASETS: Registry[RawData] = Registry("data source", context=("array", "labels", "val", "test", "open_run", "limit"))
