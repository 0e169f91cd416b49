"""An exclusive lock on a run directory: one process at a time writes into it.

The lock is ``fcntl.flock`` on ``RUN_DIR/.pyro-vae.lock``, taken without
waiting: a second process is refused at once with the holder's process id.
The operating system drops the lock when its process ends, however it ends
(SIGKILL included), so a stale lock file never blocks a later run. The holder
removes the lock file when it lets go; a process that locked a file which was
removed meanwhile notices (the path no longer names its file) and tries again.
Within one process the lock is re-entrant (``fit`` inside ``compare``,
``evaluate`` after ``fit``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from pyro_vae._files import os_error
from pyro_vae.errors import RunDirError

__all__ = ["LOCK_NAME", "hold_lock", "holds_lock"]

#: the lock file inside a run directory
LOCK_NAME = ".pyro-vae.lock"
#: attempts when the lock file is replaced under us by a process that removed its run
_ATTEMPTS = 5

_held: dict[Path, list[int]] = {}  # resolved root -> [file descriptor, depth]
_registry_lock = threading.Lock()


def holds_lock(root: Path) -> bool:
    """Whether this process holds the lock on ``root``."""
    return root.resolve() in _held


def _holder(fd: int) -> str:
    """``process PID`` as the lock file names it, or ``another process`` before the holder wrote its id."""
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return f"process {text}" if text.isdigit() else "another process"


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)


def _try_lock(root: Path) -> int | None:
    """The locked descriptor of ``root``'s lock file, or ``None`` if that file was replaced meanwhile."""
    path = root / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise os_error("lock the run directory", root, err) from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise RunDirError(
            f"run directory {str(root)!r} is in use by {holder}: wait until it ends, or use another directory"
        ) from None
    if not _same_file(fd, path):
        os.close(fd)
        return None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    except OSError as err:
        _release(root, fd)
        raise os_error("lock the run directory", root, err) from err
    return fd


def _acquire(root: Path) -> int:
    for _ in range(_ATTEMPTS):
        fd = _try_lock(root)
        if fd is not None:
            return fd
    raise RunDirError(f"run directory {str(root)!r} is being created and removed by other processes: try again")


def _release(root: Path, fd: int) -> None:
    """Remove the lock file (still holding the lock, so nobody else owns it), then let go."""
    path = root / LOCK_NAME
    with contextlib.suppress(OSError):
        if _same_file(fd, path):
            path.unlink()
    os.close(fd)


@contextlib.contextmanager
def hold_lock(root: Path) -> Iterator[None]:
    """Hold the exclusive lock on the existing folder ``root`` for the ``with`` block.

    Raises
    ------
    RunDirError
        ``run directory ROOT is in use by process PID`` when another process holds it,
        or one line naming the cause when the lock file cannot be made (read-only, ...).
    """
    key = root.resolve()
    with _registry_lock:
        entry = _held.get(key)
        if entry is None:
            entry = _held[key] = [_acquire(root), 0]
        entry[1] += 1
    try:
        yield
    finally:
        with _registry_lock:
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                _release(root, entry[0])
