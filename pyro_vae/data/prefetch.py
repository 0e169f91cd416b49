"""Drawing the next training batches in a background thread while the current step runs."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")

#: what the worker puts after the last item
_DONE = object()


class _Failure:
    """An exception raised while drawing, carried to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _put(out: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` into ``out`` unless ``stop`` is set first; returns whether it went in."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _fill(items: Iterable[T], out: queue.Queue, stop: threading.Event) -> None:
    """Put every item of ``items`` (then ``_DONE``, or the failure) into ``out`` until ``stop`` is set."""
    try:
        for item in items:
            if not _put(out, item, stop):
                return
        _put(out, _DONE, stop)
    except BaseException as error:  # handed to the consumer, who re-raises it
        _put(out, _Failure(error), stop)


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield ``items`` in order, drawing up to ``depth`` of them ahead in a background thread.

    The items are drawn in the same order by one thread, so a seeded source
    gives the same items as without prefetching; an exception while drawing is
    raised here, at the item where it happened. Stopping early (``break``, an
    error in the consumer) stops the thread.
    """
    if depth < 1:
        raise ValueError(f"prefetch depth must be at least 1, got {depth}")
    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    worker = threading.Thread(target=_fill, args=(items, out, stop), daemon=True, name="pyro-vae-prefetch")
    worker.start()
    try:
        while (item := out.get()) is not _DONE:
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()
