"""KL warm-up and early stopping."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["EarlyStopping", "kl_weight"]


def kl_weight(step: int, steps_per_epoch: int, warmup_epochs: float) -> float:
    """Linear KL warm-up: ``min(1, step / (warmup_epochs * steps_per_epoch))``, never 0.

    ``step`` counts optimisation steps from 1; with ``warmup_epochs == 0`` the
    weight is always 1.
    """
    if warmup_epochs <= 0:
        return 1.0
    return min(1.0, step / (warmup_epochs * steps_per_epoch))


@dataclass
class EarlyStopping:
    """Track the best validation score; stop after ``patience`` epochs without improvement.

    The score is the validation ELBO, or what the model's ``selection`` names; ``tie`` breaks
    equal scores (the trainer passes the validation ELBO: of two epochs with the same validation
    accuracy, the one with the better ELBO). ``patience == 0`` never stops (the best epoch is
    still tracked).
    """

    patience: int
    best: float = -math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    best_tie: float = -math.inf

    def update(self, value: float, epoch: int, tie: float = -math.inf) -> bool:
        """Record epoch ``epoch``'s validation score; return whether it is the best so far."""
        if value > self.best or (value == self.best and tie > self.best_tie):
            self.best, self.best_tie, self.best_epoch, self.bad_epochs = value, tie, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, float | int]:
        return {
            "best": self.best,
            "best_tie": self.best_tie,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])
        self.best_tie = float(state.get("best_tie", -math.inf))
