"""The processes of a ``torch.distributed`` run: which one this is, and what they compute together.

A thin layer over ``torch.distributed`` for the figures the processes share
(evaluation sums, the decisions of process 0, per-process random states). With
no process group, or a group of one, every function is the identity and talks
to no one, so the code calling it is the same for one process and for many.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch.distributed as dist

__all__ = ["Ranks", "broadcast", "gather", "map_sharded"]

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    """The ``rank`` of this process among ``world`` processes (``0`` of ``1`` without a process group)."""

    rank: int = 0
    world: int = 1

    @classmethod
    def current(cls) -> Ranks:
        """The ranks of the default process group, if one is initialized; else one process."""
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()

    @property
    def distributed(self) -> bool:
        """Whether other processes take part."""
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """Whether this is process 0, the one that writes files and decides."""
        return self.rank == 0


def gather(value: T, ranks: Ranks) -> list[T]:
    """``value`` of every process, in rank order (a collective: every process must call it)."""
    if not ranks.distributed:
        return [value]
    values: list[Any] = [None] * ranks.world
    dist.all_gather_object(values, value)
    return values


def broadcast(value: T, ranks: Ranks) -> T:
    """Process 0's ``value``, in every process (a collective)."""
    if not ranks.distributed:
        return value
    box: list[Any] = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def map_sharded(score: Callable[[int], T], count: int, ranks: Ranks) -> list[T]:
    """``[score(i) for i in range(count)]``, process ``r`` scoring items ``r, r + world, ...`` (a collective).

    Every process gets the whole list, in item order, so sums over it are the same
    numbers, added in the same order, as in one process.
    """
    mine = [score(i) for i in range(ranks.rank, count, ranks.world)]
    parts = gather(mine, ranks)
    results: list[Any] = [None] * count
    for rank, part in enumerate(parts):
        results[rank :: ranks.world] = part
    return results
