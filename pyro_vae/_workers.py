"""Evaluation batches scored in forked worker processes, each with its share of the intra-op threads.

Scoring a batch is dense arithmetic on small tensors: one process per core,
each on one thread, keeps both cores of the 2-core development machine busier
than one process on two threads (12-16% less time for 600-1,000 MNIST test
images at ``K = 5000``, measured side by side: ``benchmarks/RESULTS.md``). Batches are
independent (each draws from its own seed), so the result does not depend on
how many processes score them, only on float rounding.

Workers are forked, so they share the model and the data without copying;
where ``fork`` is unavailable (Windows, or inside a daemonic process) only one
worker is allowed, and the error says so.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

__all__ = ["check_workers", "map_batches"]

#: the scoring function of the map in progress, inherited by the forked workers
_SCORE: Callable[[int], Any] | None = None


def check_workers(workers: int) -> None:
    """Raise ``ValueError`` unless ``workers`` processes can score batches here."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"eval.workers must be a positive integer, got {workers!r}")
    if workers == 1:
        return
    if "fork" not in multiprocessing.get_all_start_methods():
        raise ValueError(
            f"eval.workers = {workers} needs processes started by fork, which this platform lacks; set eval.workers = 1"
        )
    if multiprocessing.current_process().daemon:
        raise ValueError(
            f"eval.workers = {workers}: a daemonic process (such as a DataLoader or Pool worker) cannot "
            "start worker processes; set eval.workers = 1 here"
        )


def map_batches(score: Callable[[int], Any], count: int, workers: int = 1) -> list[Any]:
    """``[score(i) for i in range(count)]``, computed by ``workers`` forked processes when above 1.

    Each worker runs ``torch.get_num_threads() // workers`` intra-op threads
    (at least one). Results come back in batch order.
    """
    check_workers(workers)
    workers = min(workers, count)
    if workers <= 1:
        return [score(i) for i in range(count)]
    threads = max(1, torch.get_num_threads() // workers)
    context = multiprocessing.get_context("fork")
    with _scoring(score), context.Pool(workers, initializer=torch.set_num_threads, initargs=(threads,)) as pool:
        return pool.map(_score_batch, range(count), chunksize=1)


@contextmanager
def _scoring(score: Callable[[int], Any]) -> Iterator[None]:
    """Make ``score`` the function the workers forked in this block call."""
    global _SCORE
    _SCORE = score
    try:
        yield
    finally:
        _SCORE = None


def _score_batch(index: int) -> Any:
    """Run in a worker: score batch ``index`` with the function inherited from the parent."""
    assert _SCORE is not None, "map_batches sets the scoring function before forking"
    return _SCORE(index)
