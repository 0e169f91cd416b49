"""What a model is sized from."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DataShape"]


@dataclass(frozen=True)
class DataShape:
    """What a model is sized from: one example's shape and the classes of each label factor."""

    event_shape: tuple[int, ...]
    classes: tuple[int, ...] = ()
