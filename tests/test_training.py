"""End to end: fitting, run directories, checkpoints, resuming, early stopping, warm-up."""

from __future__ import annotations

import csv
import itertools
import json
import time

import numpy as np
import pytest
import torch

import pyro_vae
from pyro_vae.config import read_toml, resolve_config
from pyro_vae.errors import ConfigError, DataError, RunDirError, TrainingError
from pyro_vae.optim import OPTIMIZERS
from pyro_vae.training import METRIC_COLUMNS, EarlyStopping, Trainer, kl_weight
from pyro_vae.training.trainer import timed

FAST = {"eval": {"samples": 20, "batch_size": 100}, "network": {"name": "mlp", "hidden": [64]}}


def test_fitting_digits_raises_the_validation_elbo_by_a_clear_margin(device):
    result = pyro_vae.fit(epochs=6, batch_size=32, device=device, **FAST)
    first, last = result.history[0]["val_elbo"], max(row["val_elbo"] for row in result.history)
    assert last - first > 2.0, (first, last)
    assert result.summary["test_elbo"] <= result.summary["test_log_likelihood"]
    assert result.run_dir is None


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    result = pyro_vae.fit(out=out, epochs=3, batch_size=64, **FAST)
    return out, result


def test_a_run_directory_holds_what_fit_promises(run):
    out, result = run
    for name in ("config.toml", "checkpoint.pt", "best.pt", "metrics.csv", "summary.json"):
        assert (out / name).is_file(), name
    for name in ("samples.png", "reconstructions.png", "training_curve.png", "manifold.png", "latent.png"):
        assert (out / name).stat().st_size > 1000, name
    summary = json.loads((out / "summary.json").read_text())
    for key in ("test_elbo", "test_log_likelihood", "log_likelihood_samples", "epochs", "train_seconds"):
        assert key in summary, key
    assert summary["epochs"] == 3
    assert summary["log_likelihood_samples"] == 20
    assert summary["test_elbo"] == pytest.approx(result.summary["test_elbo"])
    with (out / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert tuple(rows[0]) == METRIC_COLUMNS
    assert all(0 <= float(r["data_seconds"]) < float(r["seconds"]) for r in rows)


def test_timed_counts_the_wait_for_each_item_and_nothing_else():
    def slow():
        for i in range(3):
            time.sleep(0.02)
            yield i

    waiting = [0.0]
    seen = []
    for item in timed(slow(), waiting):
        seen.append(item)
        time.sleep(0.2)  # the consumer's time is not waiting
    assert seen == [0, 1, 2]
    assert 0.06 <= waiting[0] < 0.4


def test_the_saved_config_reproduces_the_resolved_config(run):
    out, result = run
    assert resolve_config(out / "config.toml") == result.config
    assert read_toml(out / "config.toml")["train"]["epochs"] == 3


def test_checkpoints_load_with_weights_only(run):
    out, result = run
    for name in ("checkpoint.pt", "best.pt"):
        state = torch.load(out / name, weights_only=True)
        assert state["config"]["train"]["epochs"] == 3
        assert set(state["model"]) == set(result.vae.state_dict())


def test_load_run_gives_the_best_epoch_model(run):
    out, result = run
    vae, config = pyro_vae.load_run(out)
    assert config == result.config
    for key, value in result.vae.state_dict().items():
        torch.testing.assert_close(vae.state_dict()[key], value)


def test_a_run_directory_is_never_overwritten(run):
    out, _ = run
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    with pytest.raises(RunDirError, match=r"will not be overwritten.*--resume"):
        pyro_vae.fit(out=out, epochs=1, **FAST)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_a_bad_config_leaves_no_run_directory_behind(tmp_path):
    with pytest.raises(ConfigError):
        pyro_vae.fit(out=tmp_path / "new", prior="gaussian")
    with pytest.raises(DataError):
        pyro_vae.fit(out=tmp_path / "new", data=np.full((10, 3), np.nan))
    assert not (tmp_path / "new").exists()


def test_resume_continues_exactly_where_an_uninterrupted_run_would_be(tmp_path):
    options = {"batch_size": 64, "kl_warmup_epochs": 1.5, "scheduler": {"name": "exponential", "gamma": 0.9}, **FAST}
    straight = pyro_vae.fit(out=tmp_path / "straight", epochs=4, pictures=False, **options)
    pyro_vae.fit(out=tmp_path / "split", epochs=2, pictures=False, **options)
    resumed = pyro_vae.resume(tmp_path / "split", overrides=["train.epochs=4"], pictures=False)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]
    for a, b in zip(straight.history, resumed.history, strict=True):
        for key in ("train_elbo", "val_elbo", "kl_weight", "lr"):
            assert a[key] == pytest.approx(b[key], rel=1e-6), key
    for key, value in straight.vae.state_dict().items():
        torch.testing.assert_close(resumed.vae.state_dict()[key], value)
    assert resumed.summary["epochs"] == 4
    assert read_toml(tmp_path / "split" / "config.toml")["train"]["epochs"] == 4


def test_resume_refuses_a_finished_run_and_model_changes(run):
    out, _ = run
    with pytest.raises(ConfigError, match=r"already trained 3 of 3 epochs.*train\.epochs"):
        pyro_vae.resume(out)
    with pytest.raises(
        ConfigError, match=r"cannot change .model\.z_dim. when resuming.*keys that may change: train\.epochs"
    ):
        pyro_vae.resume(out, overrides=["model.z_dim=5", "train.epochs=5"])
    with pytest.raises(RunDirError, match="does not exist"):
        pyro_vae.resume(out / "missing")


def test_evaluate_rewrites_the_summary_with_the_requested_samples(run, tmp_path):
    out, _ = run
    summary = pyro_vae.evaluate(out, samples=7)
    assert summary["log_likelihood_samples"] == 7
    assert summary["epochs"] == 3  # training figures are kept
    assert json.loads((out / "summary.json").read_text())["log_likelihood_samples"] == 7


def test_sample_draws_from_the_prior_and_writes_a_png(run, tmp_path):
    out, _ = run
    x = pyro_vae.sample(out, 9, out=tmp_path / "s.png", seed=1)
    assert x.shape == (9, 1, 8, 8)
    assert (tmp_path / "s.png").stat().st_size > 1000
    torch.testing.assert_close(pyro_vae.sample(out, 9, seed=1), x)
    with pytest.raises(ConfigError, match="positive integer"):
        pyro_vae.sample(out, 0)


def test_fit_on_a_numpy_array_with_labels(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.random((300, 12)) < np.linspace(0.1, 0.9, 12)).astype(np.float32)
    labels = rng.integers(0, 3, 300)
    result = pyro_vae.fit(data=x, labels=labels, out=tmp_path / "run", epochs=2, **FAST)
    assert result.data.event_shape == (12,)
    assert result.data.test.labels is not None
    assert (tmp_path / "run" / "latent.png").is_file()
    assert not (tmp_path / "run" / "manifold.png").exists()  # vectors: no image manifold
    with pytest.raises(DataError, match="in-memory array"):
        pyro_vae.evaluate(tmp_path / "run")
    assert "test_elbo" in pyro_vae.evaluate(tmp_path / "run", data=x, labels=labels)


def test_early_stopping_stops_after_patience_epochs_without_improvement(monkeypatch):
    values = iter([-10.0, -9.0, -9.5, -9.4, -9.2, -8.0])
    monkeypatch.setattr(Trainer, "validate", lambda self: next(values))
    result = pyro_vae.fit(epochs=6, patience=3, **FAST)
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4, 5]
    assert result.summary["stopped_early"] is True
    assert result.summary["best_epoch"] == 2


def test_early_stopping_rule():
    stop = EarlyStopping(patience=2)
    assert stop.update(-5.0, 1) and not stop.should_stop
    assert not stop.update(-5.0, 2) and not stop.should_stop
    assert not stop.update(-6.0, 3) and stop.should_stop
    assert stop.best_epoch == 1
    never = EarlyStopping(patience=0)
    for epoch in range(1, 20):
        never.update(-float(epoch), epoch)
    assert not never.should_stop


def test_kl_warm_up_rises_linearly_to_one():
    assert kl_weight(1, 10, 0) == 1.0
    weights = [kl_weight(step, 10, 2.0) for step in range(1, 31)]
    assert weights[0] == pytest.approx(0.05)
    assert weights[9] == pytest.approx(0.5)
    assert weights[19:] == [1.0] * 11
    assert all(a < b for a, b in itertools.pairwise(weights[:20]))


def test_kl_warm_up_is_recorded_per_epoch():
    result = pyro_vae.fit(epochs=3, kl_warmup_epochs=2, **FAST)
    assert [row["kl_weight"] for row in result.history] == pytest.approx([0.5, 1.0, 1.0])


@pytest.mark.filterwarnings("ignore:Encountered NaN")
def test_a_diverging_loss_is_a_clear_error():
    x = np.full((50, 4), 1e30, dtype=np.float32)
    with pytest.raises(TrainingError, match=r"lower train\.lr"):
        pyro_vae.fit(data=x, likelihood={"name": "normal", "learn_scale": False}, epochs=1, **FAST)


@pytest.mark.parametrize(
    "options",
    [
        {"optimizer": {"name": "adamw", "weight_decay": 0.1}},
        {"optimizer": "sgd", "lr": 0.01},
        {"scheduler": "cosine"},
        {"scheduler": {"name": "step", "step_size": 1, "gamma": 0.5}},
        {"grad_clip": 1.0},
        {"estimator": {"name": "meanfield", "num_particles": 2}},
        {"estimator": {"name": "trace", "num_particles": 3}},
        {"prior": {"name": "mixture", "components": 3}, "likelihood": "continuous_bernoulli"},
    ],
    ids=["adamw", "sgd", "cosine", "step", "grad-clip", "meanfield", "trace-particles", "mixture-cb"],
)
def test_training_options_run_and_improve(options):
    result = pyro_vae.fit(epochs=3, batch_size=64, **{**FAST, **options})
    assert len(result.history) == 3
    assert max(row["val_elbo"] for row in result.history[1:]) > result.history[0]["val_elbo"]
    assert np.isfinite(result.summary["test_log_likelihood"])
    if "scheduler" in options:
        assert result.history[-1]["lr"] < result.history[0]["lr"]


def test_skipping_distribution_checks_during_steps_changes_numbers_by_rounding_only():
    """The training fast path (Pyro's per-step validation off, closed-form scores) gives the checked run's numbers.

    Up to float32 rounding: the closed forms sum in another order (tests/test_training_scores.py checks them
    to 1e-12 in float64).
    """
    runs = [
        pyro_vae.fit(epochs=2, z_dim=3, eval={"samples": 10}, pictures=False, validate_distributions=check)
        for check in (True, False)
    ]
    checked, unchecked = ([r["train_elbo"] for r in run.history] for run in runs)
    assert unchecked == pytest.approx(checked, rel=1e-6)
    assert runs[1].summary["test_elbo"] == pytest.approx(runs[0].summary["test_elbo"], rel=1e-6)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_the_fused_optimizer_trains_like_the_per_tensor_loop(name):
    """Fused Adam, pyro-vae's default where torch has it, changes results by float rounding only."""
    runs = [
        pyro_vae.fit(epochs=2, z_dim=3, pictures=False, optimizer={"name": name, "fused": fused}, **FAST)
        for fused in (True, False)
    ]
    fused, looped = runs
    for a, b in zip(fused.vae.state_dict().values(), looped.vae.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert fused.history[-1]["train_elbo"] == pytest.approx(looped.history[-1]["train_elbo"], rel=1e-5)


def test_fused_is_on_where_torch_offers_it_and_checked():
    params = [torch.nn.Parameter(torch.zeros(3))]
    assert OPTIMIZERS.build("adam", params=params, lr=1e-3).defaults["fused"] is True
    assert OPTIMIZERS.build({"name": "adam", "fused": False}, params=params, lr=1e-3).defaults["fused"] is False
    with pytest.raises(ConfigError, match="'fused' must be true or false"):
        OPTIMIZERS.build({"name": "adam", "fused": "yes"}, params=params, lr=1e-3)


def test_a_fit_that_fails_before_its_first_epoch_leaves_no_run_behind(tmp_path):
    out, empty = tmp_path / "new", tmp_path / "made_by_user"
    empty.mkdir()
    bad = {"estimator": "jit_trace", "kl_warmup_epochs": 1.0}
    for folder in (out, empty):
        with pytest.raises(ConfigError, match="cannot follow a changing KL weight"):
            pyro_vae.fit(out=folder, epochs=1, **bad, **FAST)
    assert not out.exists()
    assert empty.is_dir() and not any(empty.iterdir())  # the user's folder stays, emptied of what fit wrote
    assert pyro_vae.fit(out=out, epochs=1, pictures=False, **FAST).run_dir == out
