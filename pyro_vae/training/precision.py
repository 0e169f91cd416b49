"""Mixed precision and compilation of the networks (``train.precision``, ``train.compile``).

Only the networks run under :func:`torch.autocast` (``"bf16"``: bfloat16, ``"16"``:
float16): their outputs come back as float32, so the distributions' log-densities,
the ELBO terms and the evaluation's log-sum-exp stay float32, and the parameters and
optimizer state stay float32 too. ``"16"`` adds a :class:`torch.amp.GradScaler`,
whose state goes into the checkpoint.

"The networks" are the largest plain (non-Pyro) modules inside the model and the guide
that hold a linear or convolutional layer: encoders, decoders, classifiers, whatever
network a registry built. Autocast and compilation replace their ``forward`` on the
instance, so parameter names and checkpoints are unchanged.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from pyro.nn import PyroModule
from torch import Tensor, nn

__all__ = ["AUTOCAST_DTYPES", "Precision", "compile_networks", "network_modules"]

#: autocast dtype of each ``train.precision`` (``None``: float32, no autocast)
AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {"32": None, "bf16": torch.bfloat16, "16": torch.float16}
#: layers whose presence makes a module one of "the networks"
_LAYERS = (nn.Linear, nn.Bilinear, nn.modules.conv._ConvNd)


def network_modules(root: nn.Module) -> list[nn.Module]:
    """The largest non-Pyro submodules of ``root`` that hold a linear or convolutional layer."""
    found: list[nn.Module] = []
    for child in root.children():
        if not isinstance(child, PyroModule) and any(isinstance(m, _LAYERS) for m in child.modules()):
            found.append(child)
        else:
            found += network_modules(child)
    return found


def _float32(value: Any) -> Any:
    """Half-precision tensors in ``value`` (a tensor, or tuples/lists/dicts of them) as float32."""
    if isinstance(value, Tensor):
        return value.float() if value.dtype in (torch.float16, torch.bfloat16) else value
    if isinstance(value, (tuple, list)):
        return type(value)(_float32(v) for v in value)
    if isinstance(value, dict):
        return {k: _float32(v) for k, v in value.items()}
    return value


class _Autocast:
    """A network's ``forward`` run under autocast, its outputs returned as float32."""

    def __init__(self, forward: Callable[..., Any], device_type: str, dtype: torch.dtype) -> None:
        self.forward, self.device_type, self.dtype = forward, device_type, dtype

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with torch.autocast(self.device_type, dtype=self.dtype):
            out = self.forward(*args, **kwargs)
        return _float32(out)


class _Compiled:
    """A network's ``forward`` through :func:`torch.compile`, back to eager (warning once) if compiling fails."""

    def __init__(self, forward: Callable[..., Any], name: str) -> None:
        self.eager, self.name = forward, name
        self.compiled: Callable[..., Any] | None = torch.compile(forward)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as error:  # a missing compiler or backend shows at the first call
                self.compiled = None
                cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                warnings.warn(
                    f"train.compile: torch.compile failed for the {self.name} ({cause}); it runs uncompiled",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return self.eager(*args, **kwargs)


def compile_networks(networks: Iterable[nn.Module]) -> None:
    """Compile each network's ``forward`` (:class:`_Compiled`: eager with a warning where compiling fails)."""
    for net in networks:
        net.forward = _Compiled(net.forward, type(net).__name__)


class Precision:
    """``train.precision`` on ``device``: autocast for the networks, a gradient scaler for ``"16"``.

    Parameters
    ----------
    name
        ``"32"``, ``"bf16"`` or ``"16"``.
    device
        Where the run computes (the autocast device type; the scaler's device).
    """

    def __init__(self, name: str, device: torch.device) -> None:
        self.name, self.dtype, self.device = name, AUTOCAST_DTYPES[name], device
        self.scaler = torch.amp.GradScaler(device.type) if name == "16" else None

    def apply(self, networks: Iterable[nn.Module]) -> None:
        """Run each network under autocast (nothing for ``"32"``)."""
        if self.dtype is None:
            return
        for net in networks:
            net.forward = _Autocast(net.forward, self.device.type, self.dtype)

    def backward(self, loss: Tensor) -> None:
        """``loss.backward()``, scaled for ``"16"``."""
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def step(self, optimizer: torch.optim.Optimizer, params: Iterable[Tensor], grad_clip: float) -> None:
        """Clip the gradients' norm to ``grad_clip`` (0: no clipping), then step (unscaled first for ``"16"``)."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)
            self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {} if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
