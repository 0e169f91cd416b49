"""The trainer's device plumbing: batch generators on the device, its random state, losses read in windows.

The shuffling generator a checkpoint saves (``data_rng``) always lives on the CPU, so a
run resumes on any device. On the CPU it also draws the batches, as it always has; on
an accelerator each epoch's batches come from a generator on that device, seeded from
``data_rng`` (:func:`epoch_generator`), so shuffling, noise, shifts and binarization
happen where the data are.

Reading a loss from an accelerator waits for the device to finish (a host sync), so
the trainer keeps each step's loss on the device and reads them in windows of
``every`` steps (:class:`StepLosses`): one sync per window, and the divergence rule
still sees every step, in order, and names the first that diverged. Under DDP the
window's losses are added over the processes at the read, so the processes meet once
per window for the losses instead of once per step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from pyro_vae.training.divergence import DivergedError, DivergenceCheck

__all__ = ["SYNC_EVERY", "StepLosses", "epoch_generator", "get_device_rng", "set_device_rng"]

#: steps between reads of the losses on an accelerator (the progress bar moves this often)
SYNC_EVERY = 50


def sync_every(device: torch.device, distributed: bool = False) -> int:
    """Steps per read of the losses: :data:`SYNC_EVERY`, or every step on one CPU process (a read costs nothing there).

    Under DDP a read is also an all-reduce, which costs a CPU process about as much as a small step.
    """
    return 1 if device.type == "cpu" and not distributed else SYNC_EVERY


def epoch_generator(data_rng: torch.Generator, device: torch.device) -> torch.Generator:
    """The generator that draws an epoch's batches on ``device``: ``data_rng`` itself on the CPU.

    Elsewhere a generator on ``device`` seeded by one draw from ``data_rng``, so the
    checkpointed CPU state fixes the epoch's batches on every device.
    """
    if device.type == "cpu":
        return data_rng
    seed = int(torch.randint(2**62, (1,), generator=data_rng))
    return torch.Generator(device=device).manual_seed(seed)


def get_device_rng(device: torch.device) -> dict[str, Any]:
    """The default random state of a CUDA ``device`` (the model's and guide's draws), for a checkpoint."""
    if device.type != "cuda":
        return {}
    return {"type": "cuda", "state": torch.cuda.get_rng_state(device)}


def set_device_rng(state: dict[str, Any], device: torch.device) -> None:
    """Restore :func:`get_device_rng`'s state when the run continues on the same kind of device."""
    if state.get("type") == device.type == "cuda":
        torch.cuda.set_rng_state(state["state"], device)


@dataclass
class StepLosses:
    """Each step's summed loss, kept on the device until :meth:`read` (one host sync for the window).

    Attributes
    ----------
    every
        Steps per window: :meth:`add` says when a window is full.
    reduce
        Adds the window's losses (a 1-D tensor, one per step) over the processes (an all-reduce);
        ``None`` on one process.
    total
        Sum of the losses read so far (nats; a Python float, so the epoch's mean is exact to float64).
    seen
        Examples behind ``total``.
    """

    every: int
    reduce: Callable[[Tensor], Tensor] | None = None
    total: float = 0.0
    seen: int = 0
    _pending: list[tuple[int, Tensor, int]] = field(default_factory=list)

    def add(self, step: int, loss: Tensor, examples: int) -> bool:
        """Keep step ``step``'s summed loss; returns whether the window is full.

        ``examples`` counts the examples of every process (what the loss sums over once :attr:`reduce` added it up).
        """
        self._pending.append((step, loss.detach(), examples))
        return len(self._pending) >= self.every

    def read(self, check: DivergenceCheck) -> int:
        """Read the window (one sync), check each step in order, add it to the totals; returns its steps.

        Raises
        ------
        DivergedError
            At the window's first diverged step, with ``step`` set to it.
        """
        if not self._pending:
            return 0
        if len(self._pending) == 1 and self.reduce is None:  # reading every step (one CPU process): no stacking
            values = [self._pending[0][1].item()]
        else:
            stacked = torch.stack([loss for _, loss, _ in self._pending])
            values = (stacked if self.reduce is None else self.reduce(stacked)).tolist()
        pending, self._pending = self._pending, []
        for (step, _, examples), value in zip(pending, values, strict=True):
            try:
                check.check_step(value / examples)
            except DivergedError as diverged:
                diverged.step = step
                raise
            self.total += value
            self.seen += examples
        return len(pending)
