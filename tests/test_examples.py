"""The example scripts and configs keep working."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

from pyro_vae.config import resolve_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("script", "printed"),
    [
        ("fit_own_array.py", "test log-likelihood (nats per image):"),
        ("swap_priors.py", "mixture "),
        ("own_programs.py", "least likely test images:"),
    ],
)
def test_example_script_runs(script, printed, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", [script, "--epochs", "1"])
    runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
    assert printed in capsys.readouterr().out


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "examples" / "configs").glob("*.toml")))
def test_example_configs_resolve(config):
    resolved = resolve_config(ROOT / "examples" / "configs" / config)
    assert resolved.train.epochs >= 1
