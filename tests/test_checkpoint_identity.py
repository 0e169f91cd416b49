"""A checkpoint is known to belong to its run (issue 13, section 3).

Fault kinds and their members (each member is a test case below):

==============================  ===================================================================
kind                            members
==============================  ===================================================================
a checkpoint of another run     best.pt, checkpoint.pt or both copied from a z_dim 4 run into a
                                z_dim 2 run, refused by evaluate, sample, diagnose, load_run and
                                --resume (config.toml untouched); a run of another data size
                                (event shape)
an edited config.toml           a model key (z_dim), a data key (limit), the seed: refused by every
                                command, naming the key; a train key (lr): --resume refuses and
                                names the --set that uses it, which then works; a config.toml
                                that is not TOML, not UTF-8, or a folder
an altered checkpoint           its config changed without its fingerprint
a checkpoint lacking a key      model, config, event_shape, epoch (best.pt); optimizer, stopper,
                                torch_rng (checkpoint.pt, --resume)
a value of the wrong type       'model' a list, 'event_shape' a string
tensors that do not fit         a weight of another shape, a missing weight, an extra weight
an unreadable file              empty (0 bytes), truncated, not a PyTorch file, a folder named
                                best.pt, not a dict, another format (newer, older unknown)
code in the pickle              refused as executable objects, never with torch's advice to
                                turn ``weights_only`` off
the identity itself             equal for best.pt and checkpoint.pt of a run, different for another
                                z_dim or event shape; a format-1 checkpoint (no fingerprint) loads
==============================  ===================================================================
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

import pyro_vae
from pyro_vae.config import read_toml, write_toml
from pyro_vae.errors import RunDirError
from pyro_vae.training.checkpoint import CHECKPOINT_FORMAT, load_checkpoint
from pyro_vae.training.identity import fingerprint

TINY = {
    "data.limit": 300,
    "train.epochs": 1,
    "train.batch_size": 64,
    "eval.samples": 5,
    "eval.batch_size": 100,
    "model.network.hidden": [16],
}


def tiny_fit(out: Path, *extra: str) -> None:
    overrides = [f"{key}={json.dumps(value)}" for key, value in TINY.items()]
    pyro_vae.fit(out=out, overrides=[*overrides, *extra], pictures=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Tiny finished runs: z_dim 2 (the one attacked), z_dim 4, and z_dim 2 on 8x8 images cropped to 7x7."""
    root = tmp_path_factory.mktemp("identity")
    made = {"z2": (), "z4": ("model.z_dim=4",), "other_limit": ("data.limit=200",)}
    for name, extra in made.items():
        tiny_fit(root / name, *extra)
    return {name: root / name for name in made}


@pytest.fixture
def run(runs, tmp_path) -> Path:
    """A fresh copy of the z_dim 2 run."""
    return Path(shutil.copytree(runs["z2"], tmp_path / "run"))


COMMANDS = {
    "evaluate": lambda run: pyro_vae.evaluate(run),
    "sample": lambda run: pyro_vae.sample(run, 4),
    "diagnose": lambda run: pyro_vae.diagnose(run, points=2, draws=5),
    "load_run": lambda run: pyro_vae.load_run(run),
    "resume": lambda run: pyro_vae.resume(run, overrides=["train.epochs=2"], pictures=False),
}


def refused(command: str, run: Path, pattern: str) -> str:
    """Run ``command`` on ``run``; it must raise a one-line RunDirError matching ``pattern`` and change nothing."""
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    with pytest.raises(RunDirError, match=pattern) as caught:
        COMMANDS[command](run)
    assert "\n" not in str(caught.value)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    return str(caught.value)


def rewrite(path: Path, change) -> None:
    """Load a checkpoint, ``change(state)`` in place, save it back with a fingerprint that matches the change."""
    state = torch.load(path, weights_only=True)
    change(state)
    if "config" in state and "event_shape" in state:
        state["fingerprint"] = fingerprint(state)
    torch.save(state, path)


# -- a checkpoint of another run ----------------------------------------------------------------

COPIED = {"best": ("best.pt",), "checkpoint": ("checkpoint.pt",), "both": ("best.pt", "checkpoint.pt")}


@pytest.mark.parametrize("command", COMMANDS, ids=COMMANDS)
@pytest.mark.parametrize("copied", COPIED, ids=COPIED)
def test_a_checkpoint_copied_from_another_run_is_refused(runs, run, command, copied):
    for name in COPIED[copied]:
        shutil.copy(runs["z4"] / name, run / name)
    message = refused(command, run, "model.z_dim")
    assert "4 in " in message and "2 in " in message
    named = {"best": "best.pt", "checkpoint": "checkpoint.pt", "both": "config.toml"}[copied]
    assert named in message


@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_checkpoint_of_a_run_on_other_data_is_refused(runs, run, command):
    shutil.copy(runs["other_limit"] / "best.pt", run / "best.pt")
    refused(command, run, r"data\.limit \(200 in best\.pt, 300 in checkpoint\.pt\)|data\.limit")


# -- an edited config.toml ------------------------------------------------------------------------

EDITS = {
    "model-z_dim": (("model", "z_dim"), 3),
    "data-limit": (("data", "limit"), 250),
    "seed": (("seed",), 7),
}


def edit_config(run: Path, keys: tuple[str, ...], value) -> None:
    config = read_toml(run / "config.toml")
    table = config
    for key in keys[:-1]:
        table = table[key]
    table[keys[-1]] = value
    write_toml(config, run / "config.toml")


@pytest.mark.parametrize("command", COMMANDS, ids=COMMANDS)
@pytest.mark.parametrize("edit", EDITS, ids=EDITS)
def test_an_edited_identity_key_in_config_toml_is_refused_by_name(run, command, edit):
    keys, value = EDITS[edit]
    edit_config(run, keys, value)
    message = refused(command, run, r"config\.toml and (best|checkpoint)\.pt in .* disagree: ")
    assert f"{'.'.join(keys)} ({value} in config.toml" in message


def test_an_edited_train_key_is_refused_by_resume_until_set_again(run):
    edit_config(run, ("train", "lr"), 0.01)
    message = refused("resume", run, r"config\.toml in .* differs from checkpoint\.pt: train\.lr \(0\.01 in config")
    assert message.endswith("pass --set train.lr=0.01 to use config.toml's values")
    result = pyro_vae.resume(run, overrides=["train.lr=0.01", "train.epochs=2"], pictures=False)
    assert result.config.train.lr == 0.01
    assert read_toml(run / "config.toml")["train"]["lr"] == 0.01


UNREADABLE_CONFIGS = {
    "bad-toml": (lambda p: p.write_text("model = [\n"), r"config\.toml' cannot be read \(.*restore the run's config"),
    "not-utf8": (lambda p: p.write_bytes(b"\xff\xfe"), r"config\.toml' cannot be read \('utf-8' codec"),
    "folder": (lambda p: (p.unlink(), p.mkdir()), r"^cannot read '.*config\.toml': it is a folder, not a file"),
}


@pytest.mark.parametrize("case", UNREADABLE_CONFIGS, ids=UNREADABLE_CONFIGS)
def test_an_unreadable_config_toml_is_refused(run, case):
    damage, pattern = UNREADABLE_CONFIGS[case]
    damage(run / "config.toml")
    refused("evaluate", run, pattern)


# -- an altered or incomplete checkpoint ------------------------------------------------------------


def test_a_checkpoint_whose_config_was_altered_is_refused(run):
    state = torch.load(run / "best.pt", weights_only=True)
    state["config"]["model"]["z_dim"] = 3
    torch.save(state, run / "best.pt")
    refused("evaluate", run, r"best\.pt' does not match its own fingerprint: its config, event shape or classes")


MISSING = {
    "best-model": ("best.pt", "model", "evaluate"),
    "best-config": ("best.pt", "config", "sample"),
    "best-event_shape": ("best.pt", "event_shape", "load_run"),
    "best-epoch": ("best.pt", "epoch", "diagnose"),
    "checkpoint-optimizer": ("checkpoint.pt", "optimizer", "resume"),
    "checkpoint-stopper": ("checkpoint.pt", "stopper", "resume"),
    "checkpoint-torch_rng": ("checkpoint.pt", "torch_rng", "resume"),
}


@pytest.mark.parametrize("case", MISSING, ids=MISSING)
def test_a_checkpoint_lacking_a_key_is_refused_by_name(run, case):
    name, key, command = MISSING[case]
    rewrite(run / name, lambda state: state.pop(key))
    refused(command, run, rf"{name}' lacks '{key}': it is not a complete pyro-vae checkpoint")


WRONG_TYPES = {"model-list": ("model", [1, 2]), "event_shape-text": ("event_shape", "64")}


@pytest.mark.parametrize("case", WRONG_TYPES, ids=WRONG_TYPES)
def test_a_value_of_the_wrong_type_is_refused(run, case):
    key, value = WRONG_TYPES[case]
    state = torch.load(run / "best.pt", weights_only=True)
    state[key] = value
    torch.save(state, run / "best.pt")
    refused("evaluate", run, rf"best\.pt' holds a \w+ under '{key}' where pyro-vae wrote a")


def _first_weight(state: dict) -> str:
    return next(k for k, v in state["model"].items() if v.dim() == 2)


TENSOR_FAULTS = {
    "other-shape": (lambda s, k: s["model"].__setitem__(k, torch.zeros(3, 3)), r"has shape \[3, 3\] there, but"),
    "missing": (lambda s, k: s["model"].pop(k), r"it lacks \["),
    "extra": (lambda s, k: s["model"].__setitem__("stray.weight", torch.zeros(1)), r"which the model does not have"),
}


@pytest.mark.parametrize("command", ["evaluate", "resume"])
@pytest.mark.parametrize("fault", TENSOR_FAULTS, ids=TENSOR_FAULTS)
def test_tensors_that_do_not_fit_the_config_are_refused(run, fault, command):
    change, pattern = TENSOR_FAULTS[fault]
    name = "best.pt" if command == "evaluate" else "checkpoint.pt"
    rewrite(run / name, lambda state: change(state, _first_weight(state)))
    refused(command, run, rf"{name}' does not fit its config: .*{pattern}")


# -- an unreadable file ------------------------------------------------------------------------------

UNREADABLE = {
    "empty": (lambda p: p.write_bytes(b""), r"is empty \(0 bytes\): restore it, or start a new run$"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:500]), r"cannot be read: it is damaged or not a PyTorch"),
    "text": (lambda p: p.write_text("hello, world"), r"cannot be read: it is damaged or not a PyTorch file"),
    "folder": (lambda p: (p.unlink(), p.mkdir()), r"cannot read the checkpoint .*: it is a folder, not a file"),
    "not-a-dict": (lambda p: torch.save([torch.zeros(2)], p), r"is not a pyro-vae checkpoint of format \d$"),
    "newer-format": (
        lambda p: torch.save({"format": CHECKPOINT_FORMAT + 1}, p),
        rf"\(it is of format {CHECKPOINT_FORMAT + 1}\): upgrade pyro-vae to read it$",
    ),
    "unknown-format": (lambda p: torch.save({"format": 0}, p), r"of format \d \(it is of format 0\)$"),
}


@pytest.mark.parametrize("case", UNREADABLE, ids=UNREADABLE)
def test_an_unreadable_checkpoint_is_one_line(run, case):
    damage, pattern = UNREADABLE[case]
    damage(run / "best.pt")
    message = refused("evaluate", run, pattern)
    assert message.startswith(("checkpoint '", "cannot read the checkpoint '")) and "best.pt" in message


class Executes:
    """An object whose unpickling would run a command."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_pickle_that_would_run_code_is_refused_plainly(run, command):
    name = "best.pt" if command == "evaluate" else "checkpoint.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model": Executes()}, run / name)
    message = refused(command, run, rf"{name}' holds executable Python objects \(\S+system\)")
    assert message.endswith(
        "pyro-vae will not load it, since loading it could run code; use a checkpoint pyro-vae wrote"
    )
    assert "weights_only" not in message and "re-run" not in message.lower()


# -- the identity itself ---------------------------------------------------------------------------


def test_the_fingerprint_tells_runs_apart_and_pairs_apart_from_nothing(runs):
    states = {name: load_checkpoint(path / "best.pt") for name, path in runs.items()}
    latest = load_checkpoint(runs["z2"] / "checkpoint.pt")
    assert states["z2"]["fingerprint"] == latest["fingerprint"] == fingerprint(states["z2"])
    assert states["z4"]["fingerprint"] != states["z2"]["fingerprint"]
    other_shape = {**states["z2"], "event_shape": [7, 7]}
    assert fingerprint(other_shape) != states["z2"]["fingerprint"]
    assert len({fingerprint(s) for s in states.values()}) == len(states)


def test_a_format_1_checkpoint_without_a_fingerprint_still_loads(run):
    for name in ("best.pt", "checkpoint.pt"):
        state = torch.load(run / name, weights_only=True)
        del state["fingerprint"]
        torch.save({**state, "format": 1}, run / name)
    assert pyro_vae.evaluate(run)["epochs"] == 1
