"""``torch.optim`` optimizers by name; the learning rate comes from ``train.lr``."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from pyro_vae.errors import ConfigError
from pyro_vae.registry import FRACTION, NON_NEGATIVE, OptionRange, Registry

__all__ = ["OPTIMIZERS"]

OPTIMIZERS: Registry[torch.optim.Optimizer] = Registry("optimizer", context=("params", "lr"))


def _check_non_negative(name: str, option: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"optimizer {name!r}: {option} must be a non-negative number, got {value!r}")
    return float(value)


def _check_betas(betas: object) -> tuple[float, float]:
    ok = isinstance(betas, (list, tuple)) and len(betas) == 2
    ok = ok and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)
    if not ok:
        raise ConfigError(f"optimizer 'adam': betas must be two numbers in [0, 1), got {betas!r}")
    return float(betas[0]), float(betas[1])


BETAS = OptionRange(
    "two numbers in [0, 1)",
    lambda b: isinstance(b, (list, tuple)) and len(b) == 2 and all(FRACTION.accepts(x) for x in b),
)

FUSED = OptionRange("true or false (or left out: automatic)", lambda v: isinstance(v, bool))

#: devices with torch's fused (single-kernel) Adam for floating-point parameters
FUSED_DEVICES = ("cpu", "cuda")


def _fused(name: str, fused: object, params: list[nn.Parameter]) -> bool:
    """Whether to use torch's fused Adam kernel: as asked, or (``None``) wherever it is available."""
    if fused is not None and not isinstance(fused, bool):
        raise ConfigError(f"optimizer {name!r}: fused must be true or false (or left out: automatic), got {fused!r}")
    if fused is None:
        return bool(params) and all(p.is_floating_point() and p.device.type in FUSED_DEVICES for p in params)
    return fused


@OPTIMIZERS.register("adam", {"weight_decay": NON_NEGATIVE, "betas": BETAS, "fused": FUSED})
def adam(
    params: Iterable[nn.Parameter],
    lr: float,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    fused: bool | None = None,
) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba 2015) with optional L2 ``weight_decay`` and ``betas``.

    ``fused``: update all parameters in one kernel (torch's ``fused=True``, the
    same arithmetic as the per-tensor loop up to float rounding, in fewer
    passes over memory); left out, it is used wherever torch offers it.
    """
    params = list(params)
    decay = _check_non_negative("adam", "weight_decay", weight_decay)
    return torch.optim.Adam(
        params, lr=lr, weight_decay=decay, betas=_check_betas(betas), fused=_fused("adam", fused, params)
    )


@OPTIMIZERS.register("adamw", {"weight_decay": NON_NEGATIVE, "fused": FUSED})
def adamw(
    params: Iterable[nn.Parameter], lr: float, weight_decay: float = 0.01, fused: bool | None = None
) -> torch.optim.Optimizer:
    """AdamW with decoupled ``weight_decay``; ``fused`` as for ``adam``."""
    params = list(params)
    decay = _check_non_negative("adamw", "weight_decay", weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=decay, fused=_fused("adamw", fused, params))


@OPTIMIZERS.register("sgd", {"momentum": FRACTION})
def sgd(params: Iterable[nn.Parameter], lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    """Stochastic gradient descent with ``momentum`` (in ``[0, 1)``)."""
    if not FRACTION.accepts(momentum):
        raise ConfigError(f"optimizer 'sgd': momentum must be {FRACTION.description}, got {momentum!r}")
    return torch.optim.SGD(params, lr=lr, momentum=float(momentum))
