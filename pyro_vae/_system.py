"""What the machine offers right now (memory), for sizing work to it."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

__all__ = ["available_memory", "release_free_memory"]


def available_memory() -> int:
    """Bytes of memory available to this process now (Linux ``MemAvailable``; else free physical pages)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


@functools.cache
def _malloc_trim() -> ctypes._CFuncPtr | None:
    """Glibc's ``malloc_trim``, or ``None`` where the C library has none (macOS, musl, Windows)."""
    path = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(path).malloc_trim if path else None
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Hand memory that ``malloc`` holds free back to the system (glibc; elsewhere nothing).

    glibc raises its ``mmap`` threshold after a large block is freed, so later
    blocks of that size come from the heap, where a stream of them can leave
    freed pages resident. A pass reading a large file chunk by chunk calls this
    after each chunk to keep its memory flat.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
