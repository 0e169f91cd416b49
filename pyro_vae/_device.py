"""Devices: the names a configuration may use, what this machine offers, and moving tensors there.

``train.device`` is ``"auto"`` (CUDA when available, else the CPU), ``"cpu"``, ``"cuda"``
(the current CUDA device), ``"cuda:N"`` or ``"mps"``. The name is checked when the
configuration is read (:func:`check_device_name`); whether the machine has that device
is checked only when a command uses it (:func:`resolve_device`), so a run trained on a
GPU still opens, evaluates and resumes on a machine without one.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor, nn

from pyro_vae._system import available_memory
from pyro_vae.errors import ConfigError

__all__ = [
    "DEVICE_NAMES",
    "available_devices",
    "check_device_name",
    "fits_on",
    "module_device",
    "resolve_device",
    "to_device",
]

#: the forms ``train.device`` (and ``--device``) accepts
DEVICE_NAMES = ("auto", "cpu", "cuda", "cuda:N", "mps")
_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
#: share of a device's free memory the data may take and still be moved there
DATA_MEMORY_SHARE = 0.5


def check_device_name(name: object, key: str = "train.device") -> str:
    """``name`` if it is one of :data:`DEVICE_NAMES`; else a one-line :class:`ConfigError`."""
    if not isinstance(name, str) or not _PATTERN.fullmatch(name):
        raise ConfigError(f"{key} must be one of {', '.join(DEVICE_NAMES)} (N a CUDA device number), got {name!r}")
    return name


def available_devices() -> list[str]:
    """The devices this process can use now: ``cpu``, then ``cuda:0`` ... and ``mps`` where present."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        names.append("mps")
    return names


def resolve_device(name: str, key: str = "train.device") -> torch.device:
    """The :class:`torch.device` that ``name`` means on this machine.

    Raises
    ------
    ConfigError
        If ``name`` is malformed or this machine lacks the device (naming those it has).
    """
    check_device_name(name, key)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    available = available_devices()
    usable = device.type == "cpu" or (
        f"{device.type}:{device.index}" in available
        if device.index is not None
        else any(a.startswith(device.type) for a in available)
    )
    if not usable:
        raise ConfigError(
            f"{key} = {name!r} is not available on this machine (available: {', '.join(available)}): "
            f'set {key} to "auto" or one of those (--device on the command line)'
        )
    if device.type == "cuda" and device.index is None:  # tensors report their index: compare like with like
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def module_device(module: nn.Module) -> torch.device:
    """Where ``module``'s first parameter (or buffer) lives; the CPU for a module holding neither."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def fits_on(device: torch.device, nbytes: int) -> bool:
    """Whether ``nbytes`` of data may be kept on ``device``: at most :data:`DATA_MEMORY_SHARE` of its free memory.

    The CPU always holds them (they are there already).
    """
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return nbytes <= DATA_MEMORY_SHARE * free
    return nbytes <= DATA_MEMORY_SHARE * available_memory()  # mps: unified memory


def to_device(x: Tensor, device: torch.device) -> Tensor:
    """``x`` on ``device``; a host tensor bound for CUDA goes through pinned memory without blocking the host."""
    if x.device == device:
        return x
    if device.type == "cuda" and x.device.type == "cpu":
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)
