"""Divergence: a loss that is not finite, or that explodes far above where the run started.

The rule (``train.divergence_factor``, default 100): with ``r`` the loss per example of the
run's first training step, a step whose loss per example exceeds

    r + divergence_factor * max(|r|, 1)

has diverged, and so has an epoch whose validation ELBO per example is below minus that
limit. A loss that is NaN or infinite has always diverged. ``divergence_factor = 0`` keeps
only the NaN/inf check. With ``train.on_divergence = "stop"`` training stops with a
:class:`~pyro_vae.errors.TrainingError` and the checkpoint of the last good epoch is kept;
with ``"rollback"`` the trainer goes back to the last good epoch, halves the learning rate
and goes on, at most ``train.max_rollbacks`` times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyro_vae.config.schema import ON_DIVERGENCE

__all__ = ["ON_DIVERGENCE", "DivergedError", "DivergenceCheck"]


class DivergedError(Exception):
    """Raised inside an epoch when the loss diverges; the trainer stops or rolls back.

    ``step`` is the training step whose loss diverged, where known (losses read in windows).
    """

    def __init__(self, reason: str, step: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.step = reason, step


@dataclass
class DivergenceCheck:
    """The divergence rule of the module docstring.

    Attributes
    ----------
    factor
        ``train.divergence_factor`` (0: only non-finite losses diverge).
    reference
        The loss per example of the run's first step (``None`` until it is taken).
    """

    factor: float
    reference: float | None = None

    @property
    def limit(self) -> float:
        """The largest loss per example that has not diverged."""
        if self.factor <= 0 or self.reference is None:
            return math.inf
        return self.reference + self.factor * max(abs(self.reference), 1.0)

    def check_step(self, loss_per_example: float) -> None:
        """Raise :class:`DivergedError` if a step's loss per example has diverged (the first sets the reference)."""
        if not math.isfinite(loss_per_example):
            raise DivergedError(f"the loss became {loss_per_example}")
        if self.reference is None:
            self.reference = loss_per_example
        elif loss_per_example > self.limit:
            raise DivergedError(f"the loss per example reached {loss_per_example:.4g}, {self._above()}")

    def check_validation(self, val_elbo: float) -> None:
        """Raise :class:`DivergedError` if an epoch's validation ELBO per example is not finite or far too low."""
        if not math.isfinite(val_elbo):
            raise DivergedError(f"the validation ELBO became {val_elbo}")
        if -val_elbo > self.limit:
            raise DivergedError(f"the validation ELBO per example fell to {val_elbo:.4g}, {self._above()}")

    def _above(self) -> str:
        return (
            f"beyond {self.limit:.4g} (the first step's {self.reference:.4g} plus "
            f"train.divergence_factor = {self.factor:g} times its size)"
        )

    def state_dict(self) -> dict[str, float | None]:
        return {"reference": self.reference}

    def load_state_dict(self, state: dict[str, float | None]) -> None:
        value = state.get("reference")
        self.reference = None if value is None else float(value)
