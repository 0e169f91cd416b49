"""The small ``shapes`` data and networks the group-model tests train on (a few seconds per fit)."""

from __future__ import annotations

from typing import Any

#: 400 images of 12 x 12 pixels from a small factor grid, an MLP of 16 units, one short epoch
SMALL_SHAPES: dict[str, Any] = {
    "data.name": "shapes",
    "data.image_size": 12,
    "data.n": 400,
    "data.scales": 2,
    "data.orientations": 2,
    "data.positions": 3,
    "model.network": {"name": "mlp", "hidden": [16]},
    "train.epochs": 1,
    "train.batch_size": 16,
    "eval.samples": 4,
}


def small_shapes(**overrides: Any) -> dict[str, Any]:
    """:data:`SMALL_SHAPES` with ``overrides`` (keys with dots written as ``model__kind``)."""
    return {**SMALL_SHAPES, **{key.replace("__", "."): value for key, value in overrides.items()}}
