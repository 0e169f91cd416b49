"""Writing files safely: atomic replacement through per-process temporary names, and OS errors as one line.

Every file pyro-vae writes (checkpoints, ``config.toml``, ``metrics.csv``,
``summary.json``, pictures, ``diagnostics.nc``) is first written to a
temporary name in the same folder that no other process can choose
(``.NAME.PID.RANDOM.tmp``), then renamed over the target. A write that fails
or is interrupted removes its temporary file, so it never leaves a partial
file behind, and an OS error becomes a :class:`~pyro_vae.errors.RunDirError`
that names the path and the cause.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from pyro_vae.errors import RunDirError

__all__ = [
    "OS_ERROR_HINTS",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "describe_os_error",
    "is_temporary_name",
    "os_error",
    "temporary_path",
]

#: ``.NAME.PID.RANDOM.tmp``: the temporary name of one write by one process
_TEMPORARY = re.compile(r"^\..+\.\d+\.[0-9a-f]{8}\.tmp$")
#: temporary names of earlier versions (``best.pt.tmp``), cleaned up the same way
_LEGACY_NAMES = ("config.toml", "checkpoint.pt", "best.pt", "metrics.csv", "summary.json", "diagnostics.nc")
_LEGACY_TEMPORARY = re.compile("^(" + "|".join(map(re.escape, _LEGACY_NAMES)) + r")\.tmp$")

#: what an OS error means for a file pyro-vae reads or writes, and what to do about it
OS_ERROR_HINTS: dict[int, str] = {
    errno.ENOSPC: "no space left on the device: free some space or write elsewhere",
    errno.EDQUOT: "the disk quota is exceeded: free some space or write elsewhere",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.EACCES: "permission denied: write elsewhere or change the folder's permissions",
    errno.EPERM: "the operation is not permitted: write elsewhere or change the folder's permissions",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EISDIR: "it is a folder, not a file: choose another path",
    errno.EEXIST: "a file of that name is in the way of a folder: choose another path",
    errno.ENOENT: "a folder on the path does not exist (it was removed?)",
    errno.ENAMETOOLONG: "the name is too long for the file system: choose a shorter path",
    errno.EIO: "input/output error: the device failed",
}


def describe_os_error(err: OSError) -> str:
    """The cause of ``err`` in words, with its errno name (e.g. ``no space left on the device ... (ENOSPC)``)."""
    code = errno.errorcode.get(err.errno or 0, "")
    text = OS_ERROR_HINTS.get(err.errno or 0) or err.strerror or str(err) or type(err).__name__
    return f"{text} ({code})" if code else text


def os_error(action: str, path: str | os.PathLike[str], err: OSError) -> RunDirError:
    """A one-line :class:`RunDirError`: ``cannot ACTION 'PATH': CAUSE``."""
    return RunDirError(f"cannot {action} {str(path)!r}: {describe_os_error(err)}")


def temporary_path(path: Path) -> Path:
    """A temporary name next to ``path`` that only this process, and only this write, uses."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def is_temporary_name(name: str) -> bool:
    """Whether ``name`` is the temporary file of a write (this version's or an earlier one's)."""
    return bool(_TEMPORARY.match(name) or _LEGACY_TEMPORARY.match(name))


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a fresh temporary name, then rename it over ``path``.

    Whatever happens (an OS error, an exception in ``write``, Ctrl-C), the
    temporary file does not outlive the call; ``path`` is either the old file
    or the complete new one.

    Raises
    ------
    RunDirError
        When the file system refuses (no space, read-only, permissions, ...).
    """
    target = Path(path)
    tmp = temporary_path(target)
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError as err:
        raise os_error("write", target, err) from err
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return target


def _write_exclusive(tmp: Path, data: bytes) -> None:
    with tmp.open("xb") as handle:
        handle.write(data)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: _write_exclusive(tmp, data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))
