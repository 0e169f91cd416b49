"""The command line: fit, evaluate, sample, list, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pyro_vae.cli import main

QUICK = ["--set", "train.epochs=2", "--set", "eval.samples=10", "--set", "model.network.hidden=[32]", "--no-progress"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["fit", "examples/configs/digits.toml", *QUICK, "--quiet", "--out", str(out)]) == 0
    return out


def test_fit_writes_a_complete_run(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    expected = {"config.toml", "checkpoint.pt", "best.pt", "metrics.csv", "summary.json", "samples.png"}
    assert expected <= names
    assert {"reconstructions.png", "training_curve.png", "manifold.png", "latent.png"} <= names
    assert json.loads((run_dir / "summary.json").read_text())["epochs"] == 2


def test_fit_prints_epochs_and_test_figures(tmp_path, capsys):
    assert main(["fit", *QUICK, "--no-pictures", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "epoch    2/2" in out
    assert "test log-likelihood" in out
    assert not (tmp_path / "r" / "samples.png").exists()


def test_evaluate_rewrites_summary(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--samples", "5"]) == 0
    assert "test log-likelihood" in capsys.readouterr().out
    assert json.loads((run_dir / "summary.json").read_text())["log_likelihood_samples"] == 5


def test_sample_writes_the_png(run_dir, tmp_path):
    target = tmp_path / "grid" / "samples.png"
    assert main(["sample", str(run_dir), "--n", "16", "--out", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_continues_a_run(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["fit", *QUICK, "--no-pictures", "--quiet", "--out", str(out)]) == 0
    assert main(["fit", "--resume", str(out), "--set", "train.epochs=3", "--no-pictures", "--no-progress"]) == 0
    assert "resuming" in capsys.readouterr().out
    assert json.loads((out / "summary.json").read_text())["epochs"] == 3


def test_fit_reads_a_numpy_file_given_with_data(tmp_path):
    path = tmp_path / "mine.npy"
    np.save(path, (np.random.default_rng(0).random((120, 3, 4)) > 0.5).astype(np.float32))
    assert main(["fit", "--data", str(path), *QUICK, "--quiet", "--out", str(tmp_path / "r")]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["event_shape"] == [1, 3, 4]
    assert summary["data"] == "npy"


def test_list_shows_every_registry(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("model.prior:", "mixture(components=10", "categorical256", "train.estimator:", "data.name:"):
        assert word in out


def test_list_shows_every_model_kind_with_its_options(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("model.kind:\n")
    assert "  ada_gvae(pooling='average', beta=1.0)  default estimator: trace" in out
    assert (
        "  group_vae(s_dim=2, pooling='product', content_prior=None, beta=1.0, adversary=0.0, swap_adversary=0.0, "
        "swap_condition='group')  default estimator: trace" in out
    )
    assert "  ss_vae(factors=None, classifier=None, alpha=" in out and "default estimator: enum" in out
    assert "  vae(bits=0, bits_prior='bernoulli', beta=1.0)  default estimator: trace" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit"], "--out RUN_DIR is required"),
        (["fit", "--set", "model.prir=mixture", "--out", "x"], "did you mean 'prior'"),
        (["fit", "--set", "train.epochs", "--out", "x"], "expects key=value"),
        (["fit", "--data", "mnst", "--out", "x"], "neither a data source"),
        (["fit", "missing.toml", "--out", "x"], "does not exist"),
        (["fit", "--resume", "nowhere"], "does not exist"),
        (["fit", "--resume", "nowhere", "--out", "x"], "drop CONFIG.toml, --out"),
        (["evaluate", "nowhere"], "does not exist"),
        (["sample", "nowhere", "--out", "x.png"], "does not exist"),
    ],
    ids=[
        "no-out",
        "misspelled-key",
        "no-equals",
        "unknown-data",
        "missing-config",
        "resume-missing",
        "resume-with-out",
        "evaluate-missing",
        "sample-missing",
    ],
)
def test_bad_input_exits_2_with_a_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("command", ["fit", "evaluate", "sample", "list"])
def test_help_explains_each_command(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: pyro-vae " + command in capsys.readouterr().out


def test_the_console_script_is_installed():
    done = subprocess.run([sys.executable, "-m", "pyro_vae", "--help"], capture_output=True, text=True, check=True)
    assert "pyro-vae fit [CONFIG.toml]" in done.stdout
