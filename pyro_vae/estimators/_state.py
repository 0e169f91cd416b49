"""Estimators that carry state from one training step to the next, and how the trainer saves it.

Most estimators are pure functions of the parameters and the random draws. A few keep
something between steps (``graph``'s decaying baseline, ``relaxed``'s temperature
schedule); they derive from :class:`StatefulEstimator`, and the trainer puts their
:meth:`~StatefulEstimator.state_dict` in every checkpoint, so a resumed run continues
exactly as an uninterrupted one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["StatefulEstimator", "estimator_state", "load_estimator_state"]


class StatefulEstimator(ABC):
    """A mixin for ELBOs with state across steps: plain numbers only (checkpoints load with ``weights_only``)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """The state to checkpoint."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict`."""


def estimator_state(elbo: object) -> dict[str, Any]:
    """``elbo``'s state to checkpoint (empty for stateless estimators)."""
    return elbo.state_dict() if isinstance(elbo, StatefulEstimator) else {}


def load_estimator_state(elbo: object, state: dict[str, Any]) -> None:
    """Give ``elbo`` the state :func:`estimator_state` saved (nothing to do for stateless estimators)."""
    if isinstance(elbo, StatefulEstimator):
        elbo.load_state_dict(state)
