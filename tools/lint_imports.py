"""Check the import layers (``[tool.importlinter]`` in pyproject.toml) with import-linter.

``models/`` and ``guides/`` sit at the top of the repository but install as
``pyro_vae.models`` and ``pyro_vae.guides``; import-linter reads packages from
disk, so this copies the three into one ``pyro_vae`` tree, as they install,
and runs ``lint-imports`` on the copy.

Usage: ``python tools/lint_imports.py`` (``make test`` runs it); exit status 0
when every contract is kept.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: installed package name -> folder in the repository
LAYOUT = {"pyro_vae": "pyro_vae", "pyro_vae/models": "models", "pyro_vae/guides": "guides"}


def stage(dest: Path, root: Path = ROOT) -> Path:
    """Copy the package into ``dest`` as it installs; return ``dest``."""
    for target, source in LAYOUT.items():
        shutil.copytree(root / source, dest / target, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def lint(staged: Path, config: Path = ROOT / "pyproject.toml") -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` on a staged copy; the completed process holds its report."""
    env = {**os.environ, "PYTHONPATH": str(staged)}
    command = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", str(config)]
    return subprocess.run(command, cwd=staged, env=env, capture_output=True, text=True, check=False)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="pyro-vae-lint-") as tmp:
        result = lint(stage(Path(tmp)))
    print(result.stdout + result.stderr, end="")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
