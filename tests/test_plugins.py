"""Issue 16, plugins: components from another installed package (entry-point group ``pyro_vae.plugins``)
and from a script (``--import FILE.py``), seen by ``pyro-vae list`` and used by ``pyro-vae fit``.

The plugin is a real package built in ``tmp_path`` (pyproject.toml with an entry point) and
installed by pip into a throw-away target folder; a child process with that folder on its path
runs the command line, as a user who installed it would. This process never has the plugin,
so resuming its runs here must name what is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pyro_vae
from pyro_vae.errors import ConfigError

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "vae-plug-test"
version = "0.1"

[project.entry-points."pyro_vae.plugins"]
stripes = "vae_plug_test"

[tool.setuptools]
packages = ["vae_plug_test"]
"""

PLUGIN = '''\
"""A prior and a data source from another package."""
import pyro.distributions as dist
import torch

from pyro_vae.data import DATASETS, RawData
from pyro_vae.priors import PRIORS
from pyro_vae.priors._registry import Prior
from pyro_vae.registry import POSITIVE


@PRIORS.register("plug_normal", {"scale": POSITIVE})
class PlugNormal(Prior):
    """N(0, scale^2 I) from the plugin package."""

    def __init__(self, z_dim, scale=1.0):
        super().__init__(z_dim)
        self.register_buffer("zeros", torch.zeros(z_dim))
        self.scale = float(scale)

    def forward(self):
        return dist.Normal(self.zeros, self.scale).to_event(1)


@DATASETS.register("plug_stripes")
def stripes(n: int = 60):
    """n 4x4 images of one bright row, from the plugin package."""
    x = torch.zeros(n, 1, 4, 4)
    x[torch.arange(n), 0, torch.arange(n) % 4] = 1.0
    return RawData(x=x, labels=torch.arange(n) % 4)
'''

SCRIPT = '''\
"""A prior registered by a script passed with --import."""
from pyro_vae.priors import PRIORS
from pyro_vae.priors.laplace import LaplacePrior

PRIORS.register("script_laplace")(type("ScriptLaplace", (LaplacePrior,), {"__doc__": "Laplace from a script."}))
'''

TINY = ["--set", "train.epochs=1", "--set", "model.network.hidden=[8]", "--set", "eval.samples=5", "--no-pictures"]

DRIVER = """\
import contextlib, io, json, sys
from pyro_vae.cli import main

def run(argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return {"code": code, "out": out.getvalue()}

print(json.dumps([run(argv) for argv in json.loads(sys.argv[1])]))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The plugin package, pip-installed (no dependencies, no build isolation) into a folder of its own."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "pkg" / "vae_plug_test").mkdir(parents=True)
    (root / "pkg" / "pyproject.toml").write_text(PYPROJECT)
    (root / "pkg" / "vae_plug_test" / "__init__.py").write_text(PLUGIN)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "--target", str(root / "site"), str(root / "pkg")], check=True, timeout=300)
    return root / "site"


def _cli(site: Path, commands: list[list[str]], cwd: Path) -> list[dict]:
    """Run ``pyro-vae`` ``commands`` in one child process with ``site`` on its path; their codes and outputs."""
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(commands)],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_plugin_package_and_import_script(installed, tmp_path) -> None:
    script = tmp_path / "my_prior.py"
    script.write_text(SCRIPT)
    plugin_run, script_run = tmp_path / "plugin-run", tmp_path / "script-run"
    listed, fitted, listed_imported, fitted_imported, resumed = _cli(
        installed,
        [
            ["list"],
            ["fit", "--set", "model.prior={name='plug_normal', scale=0.5}", "--set", "data.name=plug_stripes",
             "--set", "data.n=50", *TINY, "--out", str(plugin_run)],
            ["list", "--import", str(script)],
            ["fit", "--import", str(script), "--set", "model.prior=script_laplace", *TINY, "--set", "data.limit=100",
             "--out", str(script_run)],
            ["fit", "--resume", str(plugin_run), "--set", "train.epochs=2", "--no-pictures"],
        ],
        tmp_path,
    )  # fmt: skip
    origin = "plugin vae-plug-test (entry point stripes = vae_plug_test)"
    assert listed["code"] == 0
    assert f"plug_normal(scale=1.0)  N(0, scale^2 I) from the plugin package.  [{origin}]" in listed["out"]
    assert f"plug_stripes(n=60)  n 4x4 images of one bright row, from the plugin package.  [{origin}]" in listed["out"]
    assert "script_laplace" not in listed["out"]
    assert f"script_laplace(scale=1.0)  Laplace from a script.  [script {script.resolve()}]" in listed_imported["out"]
    assert [fitted["code"], fitted_imported["code"], resumed["code"]] == [0, 0, 0]

    summary = json.loads((plugin_run / "summary.json").read_text())
    assert summary["prior"] == {"name": "plug_normal", "scale": 0.5}
    assert summary["data"] == "plug_stripes" and summary["n_train"] + summary["n_val"] + summary["n_test"] == 50
    assert summary["epochs"] == 2  # resumed with the plugin installed
    config = (plugin_run / "config.toml").read_text()
    assert f'"prior \'plug_normal\'" = "{origin}"' in config
    assert f'"data source \'plug_stripes\'" = "{origin}"' in config

    # this process has neither the package nor the script: resuming names both missing components
    before = {path.name: path.read_bytes() for path in plugin_run.iterdir()}
    with pytest.raises(ConfigError, match="needs components from plugins that are not loaded: ") as err:
        pyro_vae.resume(plugin_run, overrides=["train.epochs=3"])
    assert f"prior 'plug_normal' from {origin}; data source 'plug_stripes' from {origin}: install" in str(err.value)
    with pytest.raises(ConfigError, match=f"prior 'script_laplace' from script {script.resolve()}: install"):
        pyro_vae.evaluate(script_run)
    assert {path.name: path.read_bytes() for path in plugin_run.iterdir()} == before  # the refusal changed nothing


def test_import_errors_are_one_line(tmp_path, capsys) -> None:
    from pyro_vae.cli import main

    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('no GPU here')\n")
    assert main(["list", "--import", str(broken)]) == 2
    assert f"--import {str(broken)!r} failed: RuntimeError: no GPU here" in capsys.readouterr().err
    assert main(["list", "--import", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["list", "--import", "no_such_module_here"]) == 2
    assert "ModuleNotFoundError" in capsys.readouterr().err
