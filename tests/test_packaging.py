"""models/ and guides/ install as pyro_vae.models and pyro_vae.guides, never as top-level packages."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pyro_vae.guides
import pyro_vae.models

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_directory_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "pyro_vae").rglob("__init__.py")}
    on_disk |= {"pyro_vae.models", "pyro_vae.guides"}
    assert listed == on_disk
    assert config["package-dir"] == {"pyro_vae": "pyro_vae", "pyro_vae.models": "models", "pyro_vae.guides": "guides"}


def test_models_and_guides_import_from_the_top_level_folders():
    assert Path(pyro_vae.models.__file__).resolve() == ROOT / "models" / "__init__.py"
    assert Path(pyro_vae.guides.__file__).resolve() == ROOT / "guides" / "__init__.py"


def test_no_top_level_models_or_guides_package_is_importable(tmp_path):
    code = "import importlib.util as u; print(u.find_spec('models'), u.find_spec('guides'))"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "None None"


def test_a_plain_wheel_installs_models_and_guides_inside_pyro_vae(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("pyro_vae-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "pyro_vae/models/vae.py" in names
    assert "pyro_vae/guides/vae.py" in names
    assert not [n for n in names if n.startswith(("models/", "guides/", "tests/"))]
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "import pyro_vae.models.vae as m, pyro_vae.guides.vae as g; print(m.__file__); print(g.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert all(line.startswith(str(site)) for line in done.stdout.split())
