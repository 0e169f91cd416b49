"""``torch.optim.lr_scheduler`` schedules by name, stepped once per epoch."""

from __future__ import annotations

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, LambdaLR, LRScheduler, StepLR

from pyro_vae.errors import ConfigError
from pyro_vae.registry import NON_NEGATIVE, POSITIVE_INT, UNIT, Registry

__all__ = ["SCHEDULERS"]

SCHEDULERS: Registry[LRScheduler] = Registry("scheduler", context=("optimizer", "epochs"))


def _check_unit(name: str, option: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ConfigError(f"scheduler {name!r}: {option} must be a number in (0, 1], got {value!r}")
    return float(value)


@SCHEDULERS.register("none")
def constant(optimizer: torch.optim.Optimizer) -> LRScheduler:
    """Keep the learning rate constant."""
    return LambdaLR(optimizer, lambda epoch: 1.0)


@SCHEDULERS.register("exponential", {"gamma": UNIT})
def exponential(optimizer: torch.optim.Optimizer, gamma: float = 0.99) -> LRScheduler:
    """Multiply the learning rate by ``gamma`` after every epoch."""
    return ExponentialLR(optimizer, gamma=_check_unit("exponential", "gamma", gamma))


@SCHEDULERS.register("step", {"step_size": POSITIVE_INT, "gamma": UNIT})
def step(optimizer: torch.optim.Optimizer, step_size: int = 30, gamma: float = 0.1) -> LRScheduler:
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs."""
    if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
        raise ConfigError(f"scheduler 'step': step_size must be a positive integer, got {step_size!r}")
    return StepLR(optimizer, step_size=step_size, gamma=_check_unit("step", "gamma", gamma))


@SCHEDULERS.register("cosine", {"min_lr": NON_NEGATIVE})
def cosine(optimizer: torch.optim.Optimizer, epochs: int, min_lr: float = 0.0) -> LRScheduler:
    """Cosine decay from ``train.lr`` to ``min_lr`` (non-negative) over the configured epochs."""
    if not NON_NEGATIVE.accepts(min_lr):
        raise ConfigError(f"scheduler 'cosine': min_lr must be {NON_NEGATIVE.description}, got {min_lr!r}")
    return CosineAnnealingLR(optimizer, T_max=epochs, eta_min=float(min_lr))
