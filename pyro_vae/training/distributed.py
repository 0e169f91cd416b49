"""Training on several processes: ``torch.distributed``, ``DistributedDataParallel`` and ``torchrun``.

``torchrun --nproc_per_node=N -m pyro_vae fit ...`` (or ``pyro-vae fit --nproc N``, which
starts the same through torchrun's own launcher) runs ``N`` copies of the command. Each
joins the process group (:func:`joined`: gloo on CPU, NCCL on CUDA), draws its own
shard of every batch (:class:`~pyro_vae.data.Shard`) and computes the loss through
``DistributedDataParallel``, which averages the gradients. The loss is scaled so the
averaged gradient is that of one process on the global batch (:meth:`TrainingProcesses.global_examples`).
Process 0 decides (validation, early stopping) and writes the run directory; the others
follow its decisions (:func:`~pyro_vae._ranks.broadcast`).

A process that fails before training makes every process stop with its reason
(:func:`agreed`); one that dies during training breaks the others' next collective,
which :func:`lost_contact` turns into one line, within ``train.ddp_timeout`` seconds
at most (a dead peer's closed connection is noticed at once).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from pyro_vae._ranks import Ranks, broadcast, gather
from pyro_vae.data import Shard
from pyro_vae.errors import ConfigError, TrainingError

__all__ = [
    "TrainingProcesses",
    "agreed",
    "backend_for",
    "joined",
    "launch",
    "lost_contact",
    "on_main",
    "one_process",
    "rank_seed",
]

T = TypeVar("T")

#: the random streams of a process besides the shared batch order: the model's draws, the data's noise
_TORCH_STREAM, _NOISE_STREAM = 0, 1


def rank_seed(seed: int, rank: int, stream: int, salt: int = 0) -> int:
    """A seed for random ``stream`` of process ``rank``, independent of the other processes' and streams'."""
    return int(np.random.SeedSequence([seed, rank, stream, salt]).generate_state(1)[0])


def backend_for(device: torch.device) -> str:
    """The ``torch.distributed`` backend for ``device``: NCCL for CUDA, gloo otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


def _world_from_env() -> int:
    """``WORLD_SIZE`` as torchrun sets it (1 when unset); a :class:`ConfigError` if it is not a positive integer."""
    text = os.environ.get("WORLD_SIZE", "1")
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"WORLD_SIZE={text!r} must be a positive integer: start the processes with torchrun")
    return int(text)


def one_process(what: str) -> None:
    """Refuse ``what`` in a process that torchrun started among several (``WORLD_SIZE`` above 1).

    Raises
    ------
    ConfigError
        Naming the processes and the commands that do share their work (fit, resume, evaluate, diagnose).
    """
    world = _world_from_env()
    if world > 1:
        raise ConfigError(
            f"{what} runs in one process, but this is one of {world} (WORLD_SIZE={world}, started by torchrun): "
            "run it without torchrun; fit, resume, evaluate and diagnose are the ones that share their work"
        )


@contextmanager
def joined(timeout: float, device: torch.device | None = None) -> Iterator[Ranks]:
    """Join the processes torchrun started for the block (``WORLD_SIZE`` above 1); else one process.

    An existing default process group (initialized by the caller, or by an earlier call) is used as
    it is and left open. A group this call forms stays open for the next calls of the same script
    (fit, then evaluate, ...: forming a group again in the same processes is unreliable) and is
    destroyed when the process exits, or at once if the block fails. ``device`` picks the backend
    (:func:`backend_for`); a CUDA device becomes this process's ``cuda:LOCAL_RANK``.

    Raises
    ------
    TrainingError
        If the process group cannot be formed (rendezvous address unset or unreachable).
    """
    device = torch.device("cpu") if device is None else device
    if dist.is_available() and dist.is_initialized():
        yield Ranks.current()
        return
    if _world_from_env() == 1:
        yield Ranks()
        return
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    try:
        dist.init_process_group(backend_for(device), timeout=timedelta(seconds=timeout))
    except (ValueError, RuntimeError) as error:
        raise TrainingError(
            f"cannot join the other processes ({_first_line(error)}): start them with torchrun "
            "(torchrun --nproc_per_node=N -m pyro_vae fit ...) or pyro-vae fit --nproc N"
        ) from None
    atexit.register(_leave)
    try:
        yield Ranks.current()
    except BaseException:
        _leave()
        raise


def _leave() -> None:
    """Destroy the default process group, if one is still open."""
    if dist.is_initialized():
        dist.destroy_process_group()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


@contextmanager
def agreed(ranks: Ranks, what: str) -> Iterator[None]:
    """Run the block in every process; if it fails in one, it fails in all (a collective at the end).

    The failing process raises its own error; the others raise a :class:`TrainingError`
    naming the process and its reason, ``what`` saying when (e.g. ``"before training"``).
    """
    if not ranks.distributed:
        yield
        return
    try:
        yield
    except Exception as error:
        gather(_first_line(error), ranks)
        raise
    failed = [(rank, reason) for rank, reason in enumerate(gather(None, ranks)) if reason is not None]
    if failed:
        rank, reason = failed[0]
        raise TrainingError(f"process {rank} of {ranks.world} stopped {what}: {reason}")


@contextmanager
def lost_contact(ranks: Ranks, timeout: float, hint: str = "") -> Iterator[None]:
    """Turn a collective that failed because another process died or hung into one :class:`TrainingError` line."""
    try:
        yield
    except (dist.DistError, RuntimeError) as error:
        if not ranks.distributed or not _is_collective_failure(error):
            raise
        raise TrainingError(
            f"process {ranks.rank} of {ranks.world} lost contact with the others ({_transport_cause(error)}): "
            f"another process stopped (its error is printed above) or did not answer within "
            f"train.ddp_timeout = {timeout:g} s{hint}"
        ) from None


def _transport_cause(error: BaseException) -> str:
    """The gist of a transport error: its first sentence, without the C++ source location gloo puts first."""
    text = re.sub(r"^\[[^\]]*\]\s*", "", str(error).strip().splitlines()[0] if str(error).strip() else "")
    return f"{type(error).__name__}: {text.split('. ')[0]}"


def _is_collective_failure(error: BaseException) -> bool:
    """Whether ``error`` comes from torch.distributed's transport (a closed connection, a timeout)."""
    if isinstance(error, dist.DistError):
        return True
    text = str(error)
    return any(mark in text for mark in ("gloo", "Gloo", "NCCL", "Connection closed", "Timed out", "timed out"))


def _usable_cores() -> int:
    """The cores this process may run on (its affinity mask on Linux; every core elsewhere)."""
    if sys.platform.startswith("linux"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class TrainingProcesses:
    """What the trainer shares with the other processes: nothing on one process.

    Parameters
    ----------
    ranks
        This process and how many train together.
    seed
        The run's seed: the batch order is the same in every process; the model's draws and the
        data's noise get streams of their own in every process but 0 (:func:`rank_seed`).
    device
        Where the run trains (the tensors of the collectives live there: NCCL needs them on the GPU).
    """

    def __init__(self, ranks: Ranks, seed: int, device: torch.device | None = None) -> None:
        self.ranks, self.seed = ranks, seed
        self.device = torch.device("cpu") if device is None else device
        #: this process's data noise (binarization, shifts) under DDP; one process draws it from the batch order's
        self.noise = torch.Generator()
        self.seed_streams()

    def seed_streams(self, salt: int = 0) -> None:
        """Seed this process's data noise, and the model's draws in every process but 0 (which keeps the run's)."""
        self.noise.manual_seed(rank_seed(self.seed, self.ranks.rank, _NOISE_STREAM, salt))
        if self.ranks.rank > 0:
            torch.manual_seed(rank_seed(self.seed, self.ranks.rank, _TORCH_STREAM, salt))

    def shard(self) -> Shard | None:
        """The part of every batch this process draws (``None`` on one process)."""
        return Shard(self.ranks.rank, self.ranks.world, self.noise) if self.ranks.distributed else None

    def wrap(self, loss: nn.Module) -> nn.Module:
        """``loss`` (an ELBO module: its forward is the loss of a batch) in ``DistributedDataParallel``.

        The model's and guide's parameters are the loss module's own (PyroModules keep them
        local, not in Pyro's global store), so they are the ones DDP averages. Buffers are
        constants (priors' zeros), so they are not re-broadcast at every step. The graph is
        static: the parameters a run leaves unused (the learned-baseline network of a guide
        trained with another baseline, say) are the same at every step, and DDP finds them
        in the first one (``static_graph``) instead of searching the graph at every step.
        """
        if not self.ranks.distributed:
            return loss
        device = next(loss.parameters()).device
        ids = [device.index] if device.type == "cuda" else None
        with warnings.catch_warnings():  # newer torch renames it; the behaviour asked for is the same
            warnings.filterwarnings("ignore", message="`broadcast_buffers` is deprecated", category=FutureWarning)
            return nn.parallel.DistributedDataParallel(
                loss, device_ids=ids, broadcast_buffers=False, static_graph=True, gradient_as_bucket_view=True
            )

    def global_examples(self, examples: int, equal_shares: bool) -> int:
        """How many examples this step's batch holds over all processes; this process holds ``examples``.

        With ``equal_shares`` every process holds as many as this one (every step of an epoch
        but its last: :func:`~pyro_vae.data.loader.shard_batches` cuts full global batches into
        equal parts), so nothing is asked of the others; else one all-reduce. Each process's
        loss divided by ``global_examples / world`` makes DDP's average of the gradients the
        gradient of the summed loss over all processes per example: one process on the global batch.
        """
        if not self.ranks.distributed or equal_shares:
            return examples * self.ranks.world
        count = torch.tensor([float(examples)], dtype=torch.float64, device=self.device)
        dist.all_reduce(count)
        return int(count.item())

    def add_up(self, values: Tensor) -> Tensor:
        """``values`` added over all processes (one all-reduce, in float64; returned in ``values``' dtype)."""
        summed = values.detach().double()
        dist.all_reduce(summed)
        return summed.to(values.dtype)

    def spare_core(self) -> bool:
        """Whether a core is left for drawing batches in a background thread beside the training step.

        On one process, or on an accelerator, yes. When several CPU processes train on this machine
        and their intra-op threads (``LOCAL_WORLD_SIZE`` x ``torch.get_num_threads()``) take every
        core this process may run on, no: the drawing thread would take time from a training step
        that the other processes wait for (MNIST, batch 1024 per process, 2 processes on 2 cores:
        14.3 thousand samples/s with the thread, 16.8 thousand without; ``benchmarks/RESULTS.md``).
        """
        if not self.ranks.distributed or self.device.type != "cpu":
            return True
        local = int(os.environ.get("LOCAL_WORLD_SIZE", self.ranks.world))
        return local * torch.get_num_threads() < _usable_cores()

    def from_main(self, value: Any) -> Any:
        """Process 0's ``value`` in every process: its decisions (validation figures, early stopping)."""
        return broadcast(value, self.ranks)

    def sync_module(self, module: nn.Module) -> None:
        """Give every process process 0's parameters and buffers of ``module`` (after it reloads them)."""
        if self.ranks.distributed:
            for tensor in module.state_dict().values():
                dist.broadcast(tensor, src=0)

    def rank_states(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        """Every process's ``state`` (its random streams, say), in rank order: what a checkpoint keeps of each."""
        return gather(state, self.ranks)

    def own(self, states: list[dict[str, Any]] | None) -> dict[str, Any] | None:
        """The entry of ``states`` for this process, saved by as many processes, else ``None``."""
        if states is None or len(states) != self.ranks.world:
            return None
        return states[self.ranks.rank]


def launch(nproc: int, argv: list[str]) -> None:
    """Run ``python -m pyro_vae ARGV`` in ``nproc`` processes on this machine through torchrun's launcher.

    Raises
    ------
    ConfigError
        If ``nproc`` is not a positive integer, or this process was itself started by torchrun.
    TrainingError
        If a process fails: which one, and its exit status (its own error is printed above).
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"--nproc must be a positive integer, got {nproc!r}")
    if "TORCHELASTIC_RUN_ID" in os.environ or _world_from_env() > 1:
        raise ConfigError("--nproc starts the processes itself: drop it when running under torchrun")
    args = get_args_parser().parse_args(
        ["--standalone", f"--nproc-per-node={nproc}", "--max-restarts=0", "--module", "pyro_vae", *argv]
    )
    agent_log = logging.getLogger("torch.distributed.elastic")
    level = agent_log.level
    agent_log.setLevel(logging.CRITICAL)  # its report of a failed process repeats the line raised below
    try:
        run(args)
    except SignalException as error:  # the launcher turns Ctrl-C (and SIGTERM) into this, after stopping the processes
        if error.sigval == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise TrainingError(f"the processes were stopped by {error.sigval.name}") from None
    except ChildFailedError as error:
        rank, failure = min(error.failures.items())
        raise TrainingError(
            f"process {rank} of {nproc} failed with exit status {failure.exitcode} (its error is printed above)"
        ) from None
    finally:
        agent_log.setLevel(level)


@contextmanager
def on_main(ranks: Ranks, enter: Callable[[], AbstractContextManager[T]], what: str) -> Iterator[T | None]:
    """``enter()``'s context, entered by process 0 alone (the run directory is its own); the others get ``None``.

    Entering is :func:`agreed`: if process 0 cannot (the directory is taken, say), every process stops.
    """
    with ExitStack() as stack:
        with agreed(ranks, what):
            value = stack.enter_context(enter()) if ranks.is_main else None
        yield value
