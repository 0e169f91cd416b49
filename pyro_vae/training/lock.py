"""An exclusive lock on a run directory: one process at a time writes into it.

The lock is ``fcntl.flock`` on ``RUN_DIR/.pyro-vae.lock``, taken without
waiting: a second process is refused at once with the holder's process id.
The operating system drops the lock when its process ends, however it ends
(SIGKILL included), so a stale lock file never blocks a later run. The holder
removes the lock file when it lets go if it created it (or adopted it with
:func:`adopt_lock_file`): a lock file left by a killed process marks its
directory as a pyro-vae run until a later process takes charge of it. A
process that locked a file which was removed meanwhile notices (the path no
longer names its file) and tries again.
Within one thread the lock is re-entrant (``evaluate`` inside ``diagnose``);
another thread of the same process is refused like another process (``flock``
belongs to an open file, and it opens its own).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from pyro_vae._files import os_error
from pyro_vae.errors import RunDirError

__all__ = ["LOCK_NAME", "adopt_lock_file", "hold_lock", "owns_lock_file"]

#: the lock file inside a run directory
LOCK_NAME = ".pyro-vae.lock"
#: attempts when the lock file is replaced under us by a process that removed its run
_ATTEMPTS = 5
#: reads of the holder's process id, 5 ms apart
_PID_POLLS = 20

#: (thread id, resolved root) -> [file descriptor, depth, 1 if this process owns the lock file]
_held: dict[tuple[int, Path], list[int]] = {}
_registry_lock = threading.Lock()


def _key(root: Path) -> tuple[int, Path]:
    """Locks are re-entrant per thread: another thread of this process opens the file again and is refused."""
    return threading.get_ident(), root.resolve()


def owns_lock_file(root: Path) -> bool:
    """Whether ``root``'s lock file is this process's own (created by it, or adopted)."""
    entry = _held.get(_key(root))
    return entry is not None and bool(entry[2])


def _holder(fd: int) -> str:
    """``process PID`` as the lock file names it (the holder writes it right after locking; wait up to 0.1 s)."""
    for _ in range(_PID_POLLS):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return f"process {text}"
        time.sleep(0.005)
    return "another process"


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)


def _open(path: Path) -> tuple[int, bool] | None:
    """A descriptor of the lock file and whether this call created it (``None``: it vanished meanwhile)."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
    except FileExistsError:
        pass
    try:
        return os.open(path, os.O_RDWR), False
    except FileNotFoundError:
        return None


def _try_lock(root: Path) -> tuple[int, bool] | None:
    """The locked descriptor of ``root``'s lock file and whether this process created the file.

    ``None`` if the file was removed or replaced meanwhile (try again).
    """
    path = root / LOCK_NAME
    try:
        opened = _open(path)
    except OSError as err:
        raise os_error("lock the run directory", root, err) from err
    if opened is None:
        return None
    fd, created = opened
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
        _release(root, fd, created)
        raise os_error("lock the run directory", root, err) from err
    return fd, created


def _acquire(root: Path) -> tuple[int, bool]:
    for _ in range(_ATTEMPTS):
        locked = _try_lock(root)
        if locked is not None:
            return locked
    raise RunDirError(f"run directory {str(root)!r} is being created and removed by other processes: try again")


def _release(root: Path, fd: int, owned: bool) -> None:
    """Remove the lock file if this process owns it (still holding the lock, so nobody else does), then let go."""
    path = root / LOCK_NAME
    with contextlib.suppress(OSError):
        if owned and _same_file(fd, path):
            path.unlink()
    os.close(fd)


def adopt_lock_file(root: Path) -> None:
    """Remove ``root``'s lock file on release even if another (killed) process created it."""
    _held[_key(root)][2] = 1


@contextlib.contextmanager
def hold_lock(root: Path) -> Iterator[None]:
    """Hold the exclusive lock on the existing folder ``root`` for the ``with`` block.

    Raises
    ------
    RunDirError
        ``run directory ROOT is in use by process PID`` when another process holds it,
        or one line naming the cause when the lock file cannot be made (read-only, ...).
    """
    key = _key(root)
    with _registry_lock:
        entry = _held.get(key)
        if entry is None:
            fd, created = _acquire(root)
            entry = _held[key] = [fd, 0, int(created)]
        entry[1] += 1
    try:
        yield
    finally:
        with _registry_lock:
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                _release(root, entry[0], bool(entry[2]))
