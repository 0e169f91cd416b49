"""The run directory: what a fit writes, who may write it, and refusing to overwrite a previous run.

A run directory belongs to one process at a time: :meth:`RunDir.claim_new`
(``fit --out``) and :meth:`RunDir.claim` (``--resume``, ``evaluate``,
``diagnose``) hold an exclusive lock on it (:mod:`pyro_vae.training.lock`)
for as long as they write. Every file is written atomically under a
per-process temporary name (:mod:`pyro_vae._files`).

A run stopped before its first epoch was saved has no ``checkpoint.pt``:
when it is interrupted, ``fit`` removes what it wrote (and the folder, if it
made it); when it is killed, it leaves an *unstarted* directory (its lock
file, ``config.toml``, perhaps ``best.pt`` and a temporary file). Both
``fit --out`` and ``--resume`` treat that leftover the same way: a new
``fit --out`` to the same directory replaces it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyro_vae._files import atomic_write_text, is_temporary_name, os_error
from pyro_vae.errors import RunDirError
from pyro_vae.training.checkpoint import MODEL_KEYS, load_checkpoint
from pyro_vae.training.identity import IDENTITY_SECTIONS, check_config_file, check_same_run
from pyro_vae.training.lock import LOCK_NAME, adopt_lock_file, hold_lock, owns_lock_file

__all__ = ["UNSTARTED_NAMES", "RunDir", "write_json"]

#: what a run killed before its first saved epoch can leave (besides temporary files); a new fit replaces it
UNSTARTED_NAMES = frozenset({"config.toml", "best.pt", LOCK_NAME})
#: the files a new fit writes before its first ``checkpoint.pt``: removed again if it fails before then
_FIRST_WRITES = ("config.toml", "best.pt", "metrics.csv")


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _names(root: Path) -> set[str]:
    """The entries of the folder ``root`` (none if it does not exist), but for this process's own lock file."""
    try:
        names = {entry.name for entry in root.iterdir()}
    except (FileNotFoundError, NotADirectoryError):
        return set()
    except OSError as err:
        raise os_error("read the run directory", root, err) from err
    return names - {LOCK_NAME} if owns_lock_file(root) else names


def _is_unstarted(names: set[str]) -> bool:
    """Whether ``names`` is what a run killed before its first saved epoch leaves.

    Only such files, marked by a lock or temporary file (which only pyro-vae
    makes), and with the ``config.toml`` a ``best.pt`` comes after: a folder
    holding a ``config.toml`` or a ``best.pt`` alone may be the user's.
    """
    if not names or not all(name in UNSTARTED_NAMES or is_temporary_name(name) for name in names):
        return False
    marked = bool(names - {"config.toml", "best.pt"})
    return marked and ("config.toml" in names or "best.pt" not in names)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, run by another user
        pass
    return True


def _is_stale(name: str) -> bool:
    """A temporary file whose writing process is gone (every earlier version's ``NAME.tmp`` counts as gone)."""
    parts = name.split(".")
    return not name.startswith(".") or not _process_alive(int(parts[-3]))


def _make_folder(root: Path) -> bool:
    """Create ``root`` (and its parents); return whether this call made it."""
    try:
        root.mkdir(parents=True)
    except FileExistsError:
        if not root.is_dir():
            raise RunDirError(f"--out {str(root)!r} is a file, not a directory: choose another path") from None
        return False
    except OSError as err:
        raise os_error("create the run directory", root, err) from err
    return True


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run directory."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def checkpoint(self) -> Path:
        """Latest state, for ``--resume``."""
        return self.root / "checkpoint.pt"

    @property
    def best(self) -> Path:
        """State with the best validation ELBO, used for evaluation and sampling."""
        return self.root / "best.pt"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def unstarted(self) -> bool:
        """Whether this is the leftover of a run killed before its first epoch was saved."""
        return _is_unstarted(_names(self.root))

    # -- a new run -------------------------------------------------------------------------

    @staticmethod
    def check_new(path: str | os.PathLike[str]) -> None:
        """Raise :class:`RunDirError` unless ``path`` is free for a new run.

        Free: missing, an empty folder, or an unstarted leftover (see :attr:`unstarted`).
        """
        root = Path(path)
        if root.exists() and not root.is_dir():
            raise RunDirError(f"--out {str(root)!r} is a file, not a directory: choose another path")
        names = _names(root)
        if names and not _is_unstarted(names):
            hint = f", or pass --resume {str(root)} to continue it" if "checkpoint.pt" in names else ""
            raise RunDirError(
                f"run directory {str(root)!r} already holds files and will not be overwritten: "
                f"choose another --out{hint}"
            )

    @classmethod
    @contextlib.contextmanager
    def claim_new(cls, path: str | os.PathLike[str], log: Callable[[str], None] | None = None) -> Iterator[RunDir]:
        """A new run directory at ``path``, locked by this process for the ``with`` block.

        Makes the folder if needed, takes its lock, checks again (under the
        lock) that it is free and replaces an unstarted leftover. If the block
        fails before the first ``checkpoint.pt``, what this run wrote is
        removed, and so is the folder if this call made it; nothing else is
        touched.

        Raises
        ------
        RunDirError
            The folder holds a run or other files, another process holds it,
            or the file system refuses (one line naming the path and the cause).
        """
        cls.check_new(path)
        run = cls(Path(path))
        made = _make_folder(run.root)
        failed = False
        try:
            with hold_lock(run.root):
                cls.check_new(run.root)
                run._replace_unstarted(log)
                try:
                    yield run
                except BaseException:
                    failed = True
                    run._discard_unstarted()
                    raise
        finally:
            if made and failed:
                with contextlib.suppress(OSError):
                    run.root.rmdir()  # only if empty: whatever another process put there stays

    def _replace_unstarted(self, log: Callable[[str], None] | None) -> None:
        """Remove the leftover of an unstarted run (called holding the lock, so no process is writing it)."""
        adopt_lock_file(self.root)
        names = sorted(_names(self.root) - {LOCK_NAME})
        if not names:
            return
        for name in names:
            self._remove(name)
        if log is not None:
            log(f"replacing the leftover of a run stopped before its first epoch was saved: {', '.join(names)}")

    def _discard_unstarted(self) -> None:
        """Remove the files this new run wrote, unless it saved a checkpoint (then ``--resume`` continues it).

        The folder held nothing but an unstarted leftover (already removed) when
        this process locked it, and no other process writes while it holds the
        lock: these files are this run's own.
        """
        if self.checkpoint.exists():
            return
        for name in _FIRST_WRITES:
            self._remove(name)

    def _remove(self, name: str) -> None:
        try:
            (self.root / name).unlink(missing_ok=True)
        except OSError as err:
            raise os_error("remove", self.root / name, err) from err

    # -- an existing run -------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], need_best: bool = False) -> RunDir:
        """An existing run directory holding at least a checkpoint (``best.pt`` if ``need_best``)."""
        run = cls(Path(path))
        if not run.root.is_dir():
            raise RunDirError(f"run directory {str(run.root)!r} does not exist")
        needed = run.best if need_best else run.checkpoint
        if needed.exists():  # a folder in its place is reported when it is read
            return run
        if run.unstarted:
            raise RunDirError(
                f"{str(run.root)!r} holds no finished epoch: its run was stopped during the first one; "
                f"start it again with pyro-vae fit --out {str(run.root)} (the leftover is replaced)"
            )
        raise RunDirError(
            f"{str(run.root)!r} has no {needed.name}: it is not a pyro-vae run directory, "
            f"or its {needed.name} was removed"
        )

    @classmethod
    @contextlib.contextmanager
    def claim(cls, path: str | os.PathLike[str], need_best: bool = False) -> Iterator[RunDir]:
        """:meth:`open` the run and hold its lock for the ``with`` block; stale temporary files are removed.

        The lock is taken first, so a run still in its first epoch is reported as in use, not as unstarted.
        """
        root = Path(path)
        if not root.is_dir():
            raise RunDirError(f"run directory {str(root)!r} does not exist")
        with hold_lock(root):
            run = cls.open(root, need_best)
            if run.checkpoint.is_file():
                adopt_lock_file(root)  # a killed process's lock file no longer marks an unstarted run
            for name in sorted(_names(run.root)):
                if is_temporary_name(name) and _is_stale(name):
                    run._remove(name)
            yield run

    def load(
        self, path: Path, keys: Mapping[str, type] = MODEL_KEYS, resumed: Collection[str] | None = None
    ) -> dict[str, Any]:
        """Load ``best.pt`` or ``checkpoint.pt`` after checking that it belongs to this run.

        The checkpoint must match its own fingerprint, the run's other
        checkpoint, and the run's ``config.toml``: in the sections a run never
        changes, or (``resumed``: the keys this resume sets) in every key but those.

        Raises
        ------
        RunDirError
            One line naming the files and what differs.
        """
        state = load_checkpoint(path, keys)
        other = self.checkpoint if path == self.best else self.best
        if other.exists():
            check_same_run(path, state, other, load_checkpoint(other))
        sections = IDENTITY_SECTIONS if resumed is None else None
        check_config_file(self.config, path, state, sections, resumed or ())
        return state
