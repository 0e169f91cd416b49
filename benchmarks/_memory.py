"""Memory per training step, shared by the step benchmarks: torch's working memory and Python's peak."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
from torch.profiler import ProfilerActivity, profile, record_function

__all__ = ["python_peak_bytes", "torch_working_bytes"]

#: names the profiler gives each measured step
STEP_MARK = "benchmark_step_"


def torch_working_bytes(step: Callable[[], object], held: int, steps: int) -> int:
    """Most bytes of gradients, activations and temporaries held by torch during one call of ``step``.

    ``steps + 1`` steps run under ``torch.profiler`` (``profile_memory=True``);
    the first only brings every block freed later into the recording (the
    profiler cannot see frees of blocks allocated before it started). For each
    other step, the peak of the running sum of allocations and frees above its
    level at the step's start is taken; the largest, plus ``held`` (bytes of
    gradients kept between steps), is returned.
    """
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        for i in range(steps + 1):
            with record_function(f"{STEP_MARK}{i}"):
                step()
    events = prof.profiler.kineto_results.events()
    memory = sorted((e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]")
    times = np.array([t for t, _ in memory], dtype=np.int64)
    level = np.cumsum([n for _, n in memory], dtype=np.int64)
    peak = 0
    for e in events:
        if not e.name().startswith(STEP_MARK) or e.name() == f"{STEP_MARK}0":
            continue
        start = np.searchsorted(times, e.start_ns(), side="left")
        end = np.searchsorted(times, e.end_ns(), side="right")
        before = level[start - 1] if start > 0 else 0
        if end > start:
            peak = max(peak, int(level[start:end].max() - before))
    return held + peak


def python_peak_bytes(step: Callable[[], object]) -> int:
    """Most bytes of Python objects live during one call of ``step`` above the level at its start (tracemalloc)."""
    tracemalloc.start()
    try:
        step()  # the first traced step allocates tracemalloc's own tables
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        step()
        return max(0, tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
