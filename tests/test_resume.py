"""Resume does what it is told, or says why not, before anything is written (issue 13, section 1).

Fault kinds and their members (each a test below):

======================================  =====================================================================
kind                                    members (cases)
======================================  =====================================================================
a resumed run differs from an           every registered estimator x scheduler {none, cosine}: the graph
uninterrupted one                       baseline, the relaxed temperature step, the JIT compilation's draws,
                                        the KL warm-up, the scheduler, early stopping, both RNG streams;
                                        the semi-supervised kind (labelled batches, cosine); graph with
                                        learned and no baseline, relaxed straight-through, mixed models
                                        (model.bits) with graph/enum/relaxed, the VampPrior, a step schedule
estimator state not checkpointed        graph (decaying baseline average), relaxed (temperature steps)
a resumable key silently ignored        train.lr, optimizer options (weight_decay, betas, momentum),
                                        train.scheduler and its options, train.epochs (cosine horizon)
a resumable key that crashes            train.optimizer switched (adam -> sgd, adam -> adamw): fresh state
a key resume cannot honour accepted     seed, data.*, model.*, a component option (model.prior.components):
                                        one-line error listing the keys that may change; nothing written
a bad value written before refusal      an invalid option of a new optimizer: config.toml and checkpoints
                                        are unchanged
======================================  =====================================================================

The matrix compares an uninterrupted 4-epoch fit with a 2-epoch fit resumed with
``train.epochs=4`` (scheduler ``none``), and with a 4-epoch fit interrupted after epoch 2
and resumed (scheduler ``cosine``, whose horizon is ``train.epochs``: a 2-epoch run has
another schedule, see ``test_a_cosine_schedule_resumed_longer_follows_the_new_horizon``).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import pyro_vae
from pyro_vae.api import RESUMABLE_KEYS, _resumed_config
from pyro_vae.assemble import build_checked, load_run_data
from pyro_vae.cli import main
from pyro_vae.config import read_toml
from pyro_vae.errors import ConfigError
from pyro_vae.estimators import ESTIMATORS, ScopedJit
from pyro_vae.training import Trainer, load_checkpoint

#: estimators that need a binary code; the others get the default Gaussian latent
BINARY_ESTIMATORS = ("enum", "graph", "relaxed")
SMALL = ["data.limit=160", "model.network.hidden=[16]", "eval.samples=4", "train.batch_size=32"]


class _Interrupt(KeyboardInterrupt):
    """Raised from the log callback to stop a fit after a given epoch, as Ctrl-C would."""


def _stop_after(epoch: int):
    def log(line: str) -> None:
        if line.startswith(f"epoch {epoch:>4d}/"):
            raise _Interrupt

    return log


def _overrides(estimator: str, scheduler: str) -> list[str]:
    model = ["model.prior=bernoulli", "model.z_dim=3"] if estimator in BINARY_ESTIMATORS else []
    # KL warm-up is resumed state too, but the JIT estimators refuse it
    warmup = (
        []
        if isinstance(ESTIMATORS.build(estimator, max_plate_nesting=1), ScopedJit)
        else ["train.kl_warmup_epochs=1.5"]
    )
    return [*SMALL, *model, *warmup, f"train.estimator={estimator}", f"train.scheduler={scheduler}", "train.patience=2"]


def _fit(out: Path, overrides: list[str], epochs: int, stop_after: int | None = None) -> pyro_vae.FitResult | None:
    log = None if stop_after is None else _stop_after(stop_after)
    try:
        return pyro_vae.fit(out=out, overrides=[*overrides, f"train.epochs={epochs}"], pictures=False, log=log)
    except _Interrupt:
        return None


@pytest.mark.parametrize("scheduler", ["none", "cosine"])
@pytest.mark.parametrize("estimator", ESTIMATORS.names())
def test_resume_in_the_middle_equals_the_uninterrupted_run_bit_for_bit(tmp_path, estimator, scheduler):
    _assert_resume_is_exact(tmp_path, _overrides(estimator, scheduler), interrupt=scheduler != "none")


BINARY = ["model.prior=bernoulli", "model.z_dim=3"]
VARIANTS = {
    "graph-learned-baseline": [*BINARY, "train.estimator=graph", "train.estimator.baseline=learned"],
    "graph-no-baseline": [*BINARY, "train.estimator=graph", "train.estimator.baseline=none"],
    "relaxed-straight-through-fast-anneal": [
        *BINARY,
        "train.estimator=relaxed",
        "train.estimator.straight_through=true",
        "train.estimator.anneal_rate=0.05",
    ],
    "mixed-bits-graph": ["model.bits=3", "train.estimator=graph"],
    "mixed-bits-enum": ["model.bits=3", "train.estimator=enum"],
    "mixed-bits-relaxed": ["model.bits=3", "train.estimator=relaxed"],
    "vamp-prior-iwae": ["model.prior=vamp", "model.prior.components=5", "train.estimator=iwae"],
    "step-schedule": ["train.scheduler=step", "train.scheduler.step_size=1"],
}


@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
def test_estimator_options_and_mixed_models_resume_bit_for_bit(tmp_path, variant):
    _assert_resume_is_exact(tmp_path, [*SMALL, *variant], interrupt=True)


def test_a_semi_supervised_run_resumes_bit_for_bit(tmp_path):
    kind = ["model.kind=ss_vae", "data.labels=40", "train.labelled_per_batch=8", "train.scheduler=cosine"]
    _assert_resume_is_exact(tmp_path, [*SMALL, *kind], interrupt=True)


def _assert_resume_is_exact(tmp_path: Path, overrides: list[str], interrupt: bool) -> None:
    """4 epochs straight against 2 (a finished 2-epoch run, or a 4-epoch run interrupted) resumed to 4."""
    straight = _fit(tmp_path / "straight", overrides, epochs=4)
    if interrupt:
        assert _fit(tmp_path / "split", overrides, epochs=4, stop_after=2) is None
    else:
        _fit(tmp_path / "split", overrides, epochs=2)
    torch.manual_seed(12345)  # the resumed run must restore its own random state
    resumed = pyro_vae.resume(tmp_path / "split", overrides=["train.epochs=4"], pictures=False)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]
    for a, b in zip(straight.history, resumed.history, strict=True):
        for key in ("train_elbo", "val_elbo", "kl_weight", "lr"):
            assert a[key] == b[key], (key, a["epoch"])
    for key, value in straight.vae.state_dict().items():
        assert torch.equal(resumed.vae.state_dict()[key], value), key
    assert resumed.summary["test_elbo"] == straight.summary["test_elbo"]


@pytest.mark.parametrize(
    ("estimator", "key", "expected"),
    [("graph", "baseline_average", float), ("relaxed", "steps", int)],
    ids=["graph-baseline", "relaxed-temperature-steps"],
)
def test_estimator_state_is_in_the_checkpoint(tmp_path, estimator, key, expected):
    _fit(tmp_path / "run", _overrides(estimator, "none"), epochs=1)
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert isinstance(state["estimator"][key], expected)
    if key == "steps":
        assert state["estimator"][key] == state["step"]  # one temperature step per training step


@pytest.fixture
def adam_run(tmp_path) -> Path:
    out = tmp_path / "adam"
    _fit(out, [*SMALL, "train.lr=0.001", "train.optimizer.weight_decay=0.0"], epochs=2)
    return out


def _resumed_trainer(run: Path, overrides: list[str]) -> Trainer:
    """What ``resume`` builds before training on: the trainer with the checkpoint loaded under the new config."""
    state = load_checkpoint(run / "checkpoint.pt")
    config = _resumed_config(state["config"], [*overrides, "train.epochs=5"])
    data = load_run_data(config, state)
    trainer = Trainer(build_checked(config, data), config, data, progress=False)
    trainer.load_state_dict(state)
    return trainer


@pytest.mark.parametrize(
    ("overrides", "option", "expected"),
    [
        (["train.lr=0.01"], "lr", 0.01),
        (["train.optimizer.weight_decay=0.5"], "weight_decay", 0.5),
        (["train.optimizer.betas=[0.5, 0.6]"], "betas", (0.5, 0.6)),
        (["train.optimizer=sgd", "train.optimizer.momentum=0.5"], "momentum", 0.5),
        (["train.scheduler.name=exponential", "train.scheduler.gamma=0.5"], "lr", 0.001 * 0.5**2),
        (["train.lr=0.01", "train.scheduler=step", "train.scheduler.step_size=1"], "lr", 0.01 * 0.1**2),
    ],
    ids=["lr", "adam-weight-decay", "adam-betas", "sgd-momentum", "exponential-schedule", "lr-and-step-schedule"],
)
def test_every_resumable_optimizer_key_takes_effect(adam_run, overrides, option, expected):
    trainer = _resumed_trainer(adam_run, overrides)
    assert trainer.optimizer.param_groups[0][option] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("optimizer", "cls"), [("sgd", torch.optim.SGD), ("adamw", torch.optim.AdamW)], ids=["adam-to-sgd", "adam-to-adamw"]
)
def test_switching_the_optimizer_starts_its_state_afresh_and_trains_on(adam_run, optimizer, cls):
    trainer = _resumed_trainer(adam_run, [f"train.optimizer={optimizer}"])
    assert type(trainer.optimizer) is cls
    assert not trainer.optimizer.state  # no moments of another optimizer
    result = pyro_vae.resume(adam_run, overrides=[f"train.optimizer={optimizer}", "train.epochs=3"], pictures=False)
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    assert read_toml(adam_run / "config.toml")["train"]["optimizer"] == optimizer


def test_the_cli_resume_with_a_new_learning_rate_trains_at_that_rate(adam_run):
    argv = ["fit", "--resume", str(adam_run), "--set", "train.lr=0.01", "--set", "train.epochs=3"]
    assert main([*argv, "--no-pictures", "--no-progress", "--quiet"]) == 0
    lrs = [row["lr"] for row in pyro_vae.api.read_metrics(adam_run / "metrics.csv")]
    assert lrs == [0.001, 0.001, 0.01]


def test_a_cosine_schedule_resumed_longer_follows_the_new_horizon(tmp_path):
    out = tmp_path / "cosine"
    _fit(out, [*SMALL, "train.lr=0.01", "train.scheduler=cosine"], epochs=3)
    result = pyro_vae.resume(out, overrides=["train.epochs=6"], pictures=False)
    lrs = [row["lr"] for row in result.history]
    expected = [0.01 * (1 + math.cos(math.pi * (epoch - 1) / 6)) / 2 for epoch in (4, 5, 6)]
    assert lrs[3:] == pytest.approx(expected, rel=1e-6)
    assert lrs[3] > lrs[4] > lrs[5] > 0  # no epoch at 0 and no climb back up


def _files(run: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(run.iterdir())}


@pytest.mark.parametrize(
    "override",
    ["seed=1", "data.limit=50", "data.split_seed=3", "model.z_dim=5", "model.prior.components=3", "model.kind=ss_vae"],
    ids=["seed", "data-limit", "data-split-seed", "model-z-dim", "model-prior-option", "model-kind"],
)
def test_a_key_resume_cannot_honour_is_refused_naming_the_allowed_ones(adam_run, override):
    before = _files(adam_run)
    with pytest.raises(ConfigError) as error:
        pyro_vae.resume(adam_run, overrides=["train.epochs=4", override])
    message = str(error.value)
    assert "\n" not in message
    assert f"cannot change {override.split('=')[0]!r} when resuming" in message
    assert "keys that may change: train.epochs, train.batch_size, train.lr" in message
    assert _files(adam_run) == before


@pytest.mark.parametrize(
    "overrides",
    [
        ["train.optimizer=sgd", "train.optimizer.momentum=-1"],
        ["train.scheduler=cosine", "train.scheduler.min_lr=-1"],
        ["train.estimator=iwae", "train.estimator.num_particles=0"],
        ["train.estimator=jit_trace", "train.kl_warmup_epochs=1"],  # refused when the trainer is built
    ],
    ids=["sgd-negative-momentum", "cosine-negative-min-lr", "iwae-no-particles", "jit-with-warm-up"],
)
def test_a_bad_resumable_value_is_refused_before_anything_is_written(adam_run, overrides):
    before = _files(adam_run)
    with pytest.raises(ConfigError):
        pyro_vae.resume(adam_run, overrides=["train.epochs=4", *overrides])
    assert _files(adam_run) == before


def test_every_train_and_eval_key_is_resumable():
    assert "train.lr" in RESUMABLE_KEYS and "eval.samples" in RESUMABLE_KEYS
    assert not [key for key in RESUMABLE_KEYS if not key.startswith(("train.", "eval."))]
