"""The run directory: what a fit writes, and refusing to overwrite a previous run."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyro_vae.errors import RunDirError

__all__ = ["RunDir", "write_json"]


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` as indented JSON, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


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

    @staticmethod
    def check_new(path: str | os.PathLike[str]) -> None:
        """Raise :class:`RunDirError` unless ``path`` is free for a new run (missing or an empty folder)."""
        root = Path(path)
        if root.exists() and not root.is_dir():
            raise RunDirError(f"--out {str(root)!r} is a file, not a directory: choose another path")
        if root.is_dir() and any(root.iterdir()):
            hint = " to continue it" if (root / "checkpoint.pt").exists() else ""
            raise RunDirError(
                f"run directory {str(root)!r} already holds files and will not be overwritten: "
                f"choose another --out, or pass --resume {str(root)}{hint}"
            )

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> RunDir:
        """Make a new, empty run directory; refuse one that already holds files."""
        cls.check_new(path)
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        return cls(root)

    def discard_if_unstarted(self, remove_root: bool) -> None:
        """Remove what a new run wrote if it failed before its first checkpoint, so the same ``--out`` works again.

        Deletes ``config.toml`` and ``metrics.csv``, then the directory itself if
        it is empty and ``remove_root`` (the fit made it). A run with a checkpoint
        is left as it is.
        """
        if self.checkpoint.exists():
            return
        for path in (self.config, self.metrics):
            path.unlink(missing_ok=True)
        if remove_root and not any(self.root.iterdir()):
            self.root.rmdir()

    @classmethod
    def open(cls, path: str | os.PathLike[str], need_best: bool = False) -> RunDir:
        """An existing run directory holding at least a checkpoint."""
        run = cls(Path(path))
        if not run.root.is_dir():
            raise RunDirError(f"run directory {str(run.root)!r} does not exist")
        needed = run.best if need_best else run.checkpoint
        if not needed.is_file():
            raise RunDirError(
                f"{str(run.root)!r} has no {needed.name}: it is not a pyro-vae run directory, "
                "or its first epoch never finished (remove the directory and start again with pyro-vae fit)"
            )
        return run
