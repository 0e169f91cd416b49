"""Divergence that stays finite is still divergence (issue 13, section 4).

Fault kinds and their members (each a test below):

=====================================  ================================================================
kind                                   members (cases)
=====================================  ================================================================
a finite explosion trains on, exit 0   Adam at train.lr = 10 and 1e3, SGD at train.lr = 10 (fresh
                                       runs); train.lr = 10 set on resume (after good epochs); the CLI
                                       exits 2 with one line and no summary.json
the last good checkpoint is lost       divergence after epoch 2: checkpoint.pt, best.pt, metrics.csv
                                       unchanged, no summary.json with the diverged figure
no way out but a new run               train.on_divergence = "rollback": back to the last good epoch at
                                       half the rate, logged and counted in metrics.csv; rollbacks
                                       used up is the same one-line error; a resume keeps the halved
                                       rate, a new train.lr replaces it
the rule itself                        first step sets the reference; limit for positive, negative
                                       and near-zero references; NaN/inf always diverge; factor 0
                                       keeps only NaN/inf; a validation ELBO below the limit diverges
=====================================  ================================================================
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import pyro_vae
from pyro_vae.cli import main
from pyro_vae.errors import TrainingError
from pyro_vae.training import load_checkpoint, read_metrics
from pyro_vae.training.divergence import DivergedError, DivergenceCheck

SMALL = ["data.limit=160", "model.network.hidden=[16]", "eval.samples=4", "train.batch_size=32"]


def _files(run: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(run.iterdir())}


@pytest.mark.parametrize(
    "overrides",
    [["train.lr=10"], ["train.lr=1000"], ["train.optimizer=sgd", "train.lr=10"]],
    ids=["adam-lr-10", "adam-lr-1e3", "sgd-lr-10"],
)
def test_a_finite_explosion_stops_training_with_one_clear_line(tmp_path, overrides):
    with pytest.raises(TrainingError) as error:
        pyro_vae.fit(out=tmp_path / "run", overrides=[*SMALL, *overrides, "train.epochs=3"], pictures=False)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("training diverged at epoch 1, step ")
    assert "train.divergence_factor = 100" in message and "lower train.lr" in message
    assert not (tmp_path / "run").exists()  # nothing was trained: nothing is kept


def test_the_cli_exits_2_with_the_one_line_and_writes_no_summary(tmp_path, capsys):
    sets = [arg for key in [*SMALL, "train.lr=1000"] for arg in ("--set", key)]
    argv = ["fit", *sets, "--out", str(tmp_path / "r")]
    assert main([*argv, "--no-pictures", "--no-progress", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pyro-vae fit: error: training diverged at epoch 1, step 2:") and "\n" not in err
    assert not (tmp_path / "r" / "summary.json").exists()


@pytest.fixture
def good_run(tmp_path) -> Path:
    out = tmp_path / "good"
    pyro_vae.fit(out=out, overrides=[*SMALL, "train.epochs=2"], pictures=False)
    return out


def test_divergence_after_good_epochs_keeps_their_checkpoint(good_run):
    before = _files(good_run)
    with pytest.raises(TrainingError, match=r"training diverged at epoch 3, .*the checkpoint of epoch 2 is kept"):
        pyro_vae.resume(good_run, overrides=["train.lr=10", "train.epochs=4"], pictures=False)
    after = _files(good_run)
    for name in ("checkpoint.pt", "best.pt", "metrics.csv", "summary.json", "config.toml"):
        assert after.get(name) == before.get(name), name
    assert load_checkpoint(good_run / "checkpoint.pt")["epoch"] == 2


def test_rollback_goes_back_at_half_the_rate_and_logs_each_time(tmp_path):
    lines: list[str] = []
    options = [*SMALL, "train.lr=10", "train.epochs=3", "train.on_divergence=rollback", "train.max_rollbacks=8"]
    result = pyro_vae.fit(out=tmp_path / "run", overrides=options, pictures=False, log=lines.append)
    rollbacks = [line for line in lines if line.startswith("rollback ")]
    assert rollbacks and rollbacks[0].startswith("rollback 1 of 8 at epoch 1, step 2: the loss per example reached")
    assert "learning rate halved to 5" in rollbacks[0]
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert rows[0]["rollbacks"] == len(rollbacks)
    assert rows[0]["lr"] == 10 / 2 ** len(rollbacks)
    assert all(math.isfinite(row["train_elbo"]) and row["train_elbo"] > -1000 for row in rows)
    assert result.summary["test_elbo"] > -1000


def test_rollbacks_used_up_stop_with_the_same_message(tmp_path):
    options = [*SMALL, "train.lr=1000", "train.epochs=2", "train.on_divergence=rollback", "train.max_rollbacks=2"]
    with pytest.raises(
        TrainingError, match=r"^training diverged after 2 rollbacks \(train\.max_rollbacks\) at epoch 1"
    ):
        pyro_vae.fit(out=tmp_path / "run", overrides=options, pictures=False)


def test_a_resume_keeps_the_halved_rate_unless_train_lr_is_set(tmp_path):
    out = tmp_path / "run"
    options = [*SMALL, "train.lr=10", "train.epochs=2", "train.on_divergence=rollback", "train.max_rollbacks=8"]
    pyro_vae.fit(out=out, overrides=options, pictures=False)
    halved = read_metrics(out / "metrics.csv")[-1]["lr"]
    assert halved < 10
    kept = pyro_vae.resume(out, overrides=["train.epochs=3"], pictures=False)
    assert kept.history[-1]["lr"] == halved
    replaced = pyro_vae.resume(out, overrides=["train.epochs=4", "train.lr=0.002"], pictures=False)
    assert replaced.history[-1]["lr"] == 0.002


@pytest.mark.parametrize(
    ("reference", "limit"),
    [(45.0, 45.0 + 100 * 45.0), (-200.0, -200.0 + 100 * 200.0), (0.25, 0.25 + 100 * 1.0)],
    ids=["positive-reference", "negative-reference", "near-zero-reference"],
)
def test_the_limit_is_the_first_loss_plus_factor_times_its_size(reference, limit):
    check = DivergenceCheck(100.0)
    check.check_step(reference)
    assert check.reference == reference
    assert check.limit == limit
    check.check_step(limit)  # at the limit: still fine
    with pytest.raises(DivergedError, match="reached"):
        check.check_step(limit * 1.01 + 1)
    with pytest.raises(DivergedError, match="validation ELBO per example fell"):
        check.check_validation(-(limit * 1.01 + 1))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "minus-inf"])
@pytest.mark.parametrize("factor", [100.0, 0.0], ids=["factor-100", "factor-0"])
def test_a_non_finite_loss_always_diverges(value, factor):
    check = DivergenceCheck(factor)
    with pytest.raises(DivergedError, match="the loss became"):
        check.check_step(value)
    with pytest.raises(DivergedError, match="the validation ELBO became"):
        check.check_validation(value)


def test_factor_zero_keeps_only_the_non_finite_check():
    check = DivergenceCheck(0.0)
    check.check_step(1.0)
    check.check_step(1e30)
    check.check_validation(-1e30)
    assert check.limit == math.inf


def test_the_reference_is_checkpointed(good_run):
    state = load_checkpoint(good_run / "checkpoint.pt")
    assert state["divergence"]["reference"] > 0  # the first step's loss per example on digits
    assert state["rollbacks"] == 0 and state["lr_scale"] == 1.0
