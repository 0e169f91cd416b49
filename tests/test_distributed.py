"""Training on several processes (issue 15): torch.distributed over gloo on this machine, DistributedDataParallel.

Every multi-process test starts its processes itself, one intra-op thread each,
either as torchrun would (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` in
the environment of ``python -m pyro_vae fit``) or through ``pyro-vae fit --nproc 2``
(torchrun's own launcher), and waits at most :data:`TIMEOUT` seconds for them.

=====================================  ===============================================================
what could go wrong                    checked by
=====================================  ===============================================================
shards that are not the global batch   the union of the processes' shards is one process's batch of
                                       ``world * batch_size`` (plain, labelled-per-batch, groups); each
                                       process keeps its own labelled rows per batch
a gradient that is not the global one  2 processes after one epoch (k steps, a last batch split
                                       unevenly) hold the parameters one process reaches on the same
                                       global batches with the same draws
test figures as means of means         the test figures both processes scored are one process's
files written by every process         ``fit --nproc 2``: one run directory, written by process 0 only
a resumed DDP run that drifts          1 epoch + ``--resume`` to 2 under DDP equals 2 epochs under DDP,
                                       bit for bit (per-process random streams in the checkpoint)
a dead process that hangs the others   the surviving process stops with one line within the timeout;
                                       the run keeps its last checkpoint, which loads
=====================================  ===============================================================
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import pyro_vae
from pyro_vae._pyro import local_params
from pyro_vae.assemble import initial_vae, prepare_data
from pyro_vae.config import resolve_config
from pyro_vae.data import Shard, Split, TrainingBatches
from pyro_vae.data.groups import GroupBatches, groups_by_label
from pyro_vae.evaluation import evaluate_split
from pyro_vae.training import TRAINING_KEYS, Trainer, load_checkpoint
from pyro_vae.training.distributed import rank_seed

#: seconds a multi-process test waits for its processes
TIMEOUT = 120
#: a small digits run: 171 training examples, 5 global batches of 2 x 16 and a last one of 11 (6 + 5);
#: ``data.binarize = fixed`` draws no noise, so one process can replay two exactly
SMALL = ["data.limit=215", "model.network.hidden=[16]", "eval.samples=4", "train.batch_size=16"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(rank: int, world: int, port: int) -> dict[str, str]:
    extra = {"RANK": rank, "LOCAL_RANK": rank, "WORLD_SIZE": world, "LOCAL_WORLD_SIZE": world}
    return {
        **os.environ,
        **{key: str(value) for key, value in extra.items()},
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "OMP_NUM_THREADS": "1",
    }


def _start(argv: list[str], world: int = 2) -> list[subprocess.Popen]:
    """``python -m pyro_vae ARGV`` in ``world`` processes, as torchrun starts them."""
    port = _free_port()
    command = [sys.executable, "-m", "pyro_vae", *argv]
    return [
        subprocess.Popen(
            command, env=_env(rank, world, port), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for rank in range(world)
    ]


def _wait(processes: list[subprocess.Popen], timeout: float = TIMEOUT) -> list[tuple[int, str]]:
    """Exit status and output of each process; every process is killed if one outlives ``timeout``."""
    deadline = time.monotonic() + timeout
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append((process.returncode, out + err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


def _run(argv: list[str], world: int = 2) -> list[str]:
    """Run and expect every process to succeed; their outputs."""
    results = _wait(_start(argv, world))
    for rank, (code, output) in enumerate(results):
        assert code == 0, f"process {rank} exited with {code}:\n{output[-3000:]}"
    return [output for _, output in results]


def _model(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path, TRAINING_KEYS)["model"]


# -- shards -------------------------------------------------------------------------------


def _split(n: int, labels: torch.Tensor | None = None) -> Split:
    return Split(torch.arange(n, dtype=torch.float32)[:, None], labels)


def _shards(make, world: int) -> list[list[torch.Tensor]]:
    """Each process's batches of one epoch (same shared seed, own noise stream)."""
    return [
        [x for x, _ in make(torch.Generator().manual_seed(3), Shard(rank, world, torch.Generator()))]
        for rank in range(world)
    ]


@pytest.mark.parametrize("n", [50, 64, 65], ids=["remainder-2", "whole-batches", "remainder-1-dropped"])
def test_the_shards_of_every_batch_make_up_one_process_batch_of_world_times_the_size(n):
    split = _split(n)
    whole = [x for x, _ in TrainingBatches(split, 16, generator=torch.Generator().manual_seed(3))]
    shards = _shards(lambda g, shard: TrainingBatches(split, 8, generator=g, shard=shard), 2)
    kept = [batch for batch in whole if len(batch) >= 2]  # a last global batch of one example is dropped
    assert len(shards[0]) == len(shards[1]) == len(kept) == len(TrainingBatches(split, 8, shard=Shard(0, 2, None)))
    for batch, first, second in zip(kept, *shards, strict=True):
        assert torch.equal(torch.cat([first, second]), batch)


def test_each_process_keeps_its_own_labelled_rows_in_every_batch():
    labels = torch.full((60,), -1)
    labels[:6] = torch.arange(6)
    split = _split(60, labels)
    make = lambda g, shard: TrainingBatches(split, 8, labelled_per_batch=2, generator=g, shard=shard)  # noqa: E731
    for batches in (_shards(make, 2)[0], _shards(make, 2)[1]):
        for x in batches:
            assert (x[:2, 0] < 6).all() and (x[2:, 0] >= 6).all()  # 2 labelled rows first, then unlabelled
    first, second = _shards(make, 2)
    seen = torch.cat([torch.cat(first), torch.cat(second)])[:, 0]
    assert sorted(seen[seen >= 6].long().tolist()) == list(range(6, 60))  # every unlabelled row once


def test_groups_are_sharded_by_group():
    split = _split(40, torch.arange(40) % 4)
    rule = lambda labels, g: groups_by_label(labels, 2, g)  # noqa: E731
    whole = [x for x, _ in GroupBatches(split, 4, rule, torch.Generator().manual_seed(3))]
    first, second = _shards(lambda g, shard: GroupBatches(split, 2, rule, g, shard=shard), 2)
    for batch, a, b in zip(whole, first, second, strict=True):
        assert torch.equal(torch.cat([a, b]), batch)


_BATCH_KINDS = {
    "plain": lambda split, g, shard: TrainingBatches(split, 8, generator=g, shard=shard),
    "labelled-mixing": lambda split, g, shard: TrainingBatches(
        split, 8, labelled_per_batch=3, generator=g, shard=shard
    ),
    "groups": lambda split, g, shard: GroupBatches(
        split, 2, lambda labels, gen: groups_by_label(labels, 3, gen), g, shard=shard
    ),
}


@pytest.mark.parametrize("world", [2, 3], ids=["2-processes", "3-processes"])
@pytest.mark.parametrize("kind", list(_BATCH_KINDS), ids=list(_BATCH_KINDS))
def test_every_batch_but_the_last_is_shared_out_equally(kind, world):
    # the trainer counts a step's examples as world x its own without asking the others, except at an epoch's last
    labels = torch.arange(83) % 5
    if kind == "labelled-mixing":
        labels[10:] = -1  # 10 labelled rows cycled into every batch, 73 unlabelled
    split = _split(83, labels)
    shards = _shards(lambda g, shard: _BATCH_KINDS[kind](split, g, shard), world)
    sizes = [[len(x) for x in batches] for batches in shards]
    assert len({len(s) for s in sizes}) == 1 and len(sizes[0]) > 2
    for step in range(len(sizes[0]) - 1):
        assert len({s[step] for s in sizes}) == 1, f"step {step + 1}: {[s[step] for s in sizes]}"


@pytest.mark.parametrize(
    ("world", "local", "threads", "expected"),
    [(1, 1, 1, True), (2, 2, 1, True), (4, 4, 1, False), (2, 2, 2, False), (8, 2, 1, True)],
    ids=["one-process", "two-of-four-cores", "every-core-taken", "threads-take-the-rest", "two-per-node"],
)
def test_batches_are_drawn_ahead_only_with_a_core_to_spare(monkeypatch, world, local, threads, expected):
    from pyro_vae._ranks import Ranks
    from pyro_vae.training import distributed

    monkeypatch.setattr(distributed, "_usable_cores", lambda: 4)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(local))
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    processes = distributed.TrainingProcesses(Ranks(0, world), seed=0, device=torch.device("cpu"))
    assert processes.spare_core() is expected


# -- the gradient of the global batch -----------------------------------------------------


def _replay_on_one_process(overrides: list[str], world: int) -> dict[str, torch.Tensor]:
    """One process stepping on the global batches, each cut into ``world`` parts drawn with each process's stream."""
    config = resolve_config(None, [*overrides, f"train.batch_size={16 * world}"])
    data = prepare_data(config)
    trainer = Trainer(initial_vae(config, data), config, data, progress=False)
    streams = [torch.get_rng_state()]
    for rank in range(1, world):
        streams.append(torch.manual_seed(rank_seed(config.seed, rank, 0)).get_state())
    for x, _ in trainer.vae.training_batches(data.train, config, torch.Generator().manual_seed(config.seed), False):
        if len(x) < world:
            continue  # the processes drop a last global batch too small to share
        total = 0.0
        for rank, part in enumerate(torch.tensor_split(x, world)):
            torch.set_rng_state(streams[rank])
            with local_params():
                total = total + trainer.loss(part, kl_weight=1.0)
            streams[rank] = torch.get_rng_state()
        (total / len(x)).backward()
        trainer.optimizer.step()
        trainer.optimizer.zero_grad(set_to_none=True)
    return trainer.vae.state_dict()


def test_two_processes_reach_one_process_parameters_on_the_global_batch_and_its_test_figures(tmp_path):
    # plain SGD: its step is proportional to the gradient, so a wrongly scaled loss shows (Adam would hide it);
    # 22 test examples in 6 batches of 4: 3 scored by each process, per-batch sums gathered, not means of means
    overrides = [*SMALL, "data.binarize=fixed", "train.epochs=1", "train.optimizer=sgd", "train.lr=0.05"]
    overrides += ["eval.batch_size=4", "eval.samples=5"]
    _run(["fit", *_sets(overrides), "--no-pictures", "--out", str(tmp_path / "r")])
    ddp = _model(tmp_path / "r" / "checkpoint.pt")
    one = _replay_on_one_process(overrides, 2)
    assert ddp.keys() == one.keys()
    for name, value in one.items():
        torch.testing.assert_close(ddp[name], value, rtol=1e-5, atol=1e-6, msg=name)
    # and the replay is not trivially equal: the initial parameters moved
    config = resolve_config(None, overrides)
    start = initial_vae(config, prepare_data(config)).state_dict()
    assert any(not torch.allclose(start[name], one[name]) for name in one)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    vae, config = pyro_vae.load_run(tmp_path / "r")
    test = evaluate_split(vae, prepare_data(config).test, 5, 4, config.eval.seed)
    assert summary["n_test"] == 22 and summary["log_likelihood_samples"] == 5
    assert summary["test_elbo"] == pytest.approx(test.elbo, rel=1e-6)
    assert summary["test_log_likelihood"] == pytest.approx(test.log_likelihood, rel=1e-6)


# -- the run directory, resume ------------------------------------------------------------

# dynamic binarization: each process's noise stream; test batches of 4, for evaluate and diagnose under DDP
RESUMED = [*SMALL, "train.kl_warmup_epochs=1.5", "eval.batch_size=4"]


def _sets(keys: list[str]) -> list[str]:
    return [arg for key in keys for arg in ("--set", key)]


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    """A 2-epoch DDP run, and a 1-epoch one started with ``fit --nproc 2`` and resumed to 2 under DDP."""
    root = tmp_path_factory.mktemp("ddp")
    whole, resumed = root / "whole", root / "resumed"
    # TensorBoard too (when installed): process 0 alone opens the loggers, the others have no run directory
    loggers = ['train.loggers=["csv", "tensorboard"]'] if importlib.util.find_spec("tensorboard") else []
    _run(["fit", *_sets([*RESUMED, "train.epochs=2", *loggers]), "--no-pictures", "--out", str(whole)])
    command = ["fit", "--nproc", "2", *_sets([*RESUMED, "train.epochs=1"]), "--out", str(resumed)]
    launcher = subprocess.run(
        [sys.executable, "-m", "pyro_vae", *command],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert launcher.returncode == 0, launcher.stdout[-3000:] + launcher.stderr[-3000:]
    first = (launcher.stdout + launcher.stderr, sorted(p.name for p in resumed.iterdir()))
    _run(["fit", "--resume", str(resumed), "--set", "train.epochs=2", "--no-pictures"])
    return whole, resumed, first


def test_fit_nproc_writes_one_run_directory_from_process_zero(ddp_runs):
    _, _, (output, names) = ddp_runs
    pictures = ["latent.png", "manifold.png", "reconstructions.png", "samples.png", "training_curve.png"]
    assert names == sorted(["best.pt", "checkpoint.pt", "config.toml", "metrics.csv", "summary.json", *pictures])
    assert output.count("epoch    1/1") == 1  # one process logs
    assert output.count("wrote ") == len(pictures)  # and writes each picture once
    assert output.count("test elbo") == 1


def test_tensorboard_under_ddp_is_written_by_process_zero_alone(ddp_runs):
    whole, _, _ = ddp_runs
    if importlib.util.find_spec("tensorboard") is None:
        pytest.skip("tensorboard is not installed (pip install 'pyro-vae[tensorboard]')")
    assert len(list((whole / "tensorboard").glob("events.out.tfevents.*"))) == 1


def test_a_resumed_ddp_run_continues_exactly(ddp_runs):
    whole, resumed, _ = ddp_runs
    one, two = _model(whole / "checkpoint.pt"), _model(resumed / "checkpoint.pt")
    for name in one:
        assert torch.equal(one[name], two[name]), name
    rows = [list(csv.DictReader((run / "metrics.csv").open())) for run in (whole, resumed)]
    for key in ("train_elbo", "val_elbo", "kl_weight"):
        assert [row[key] for row in rows[0]] == [row[key] for row in rows[1]]
    assert len(load_checkpoint(whole / "checkpoint.pt", TRAINING_KEYS)["ranks"]) == 2


# -- evaluating under torchrun --------------------------------------------------------------


def _headline(summary: dict) -> tuple:
    return tuple(summary[key] for key in ("test_elbo", "test_log_likelihood", "psis_khat_mean", "n_test"))


def test_evaluate_and_diagnose_under_ddp_share_the_test_batches_and_write_once(ddp_runs, tmp_path):
    # 22 test examples in batches of 4, K = 30: each process scores 3 batches; sums are gathered, so the
    # figures are one process's (to float rounding), and process 0 alone logs and writes
    run = tmp_path / "run"
    shutil.copytree(ddp_runs[0], run)
    outputs = _run(["evaluate", str(run), "--samples", "30"])
    ddp = json.loads((run / "summary.json").read_text())
    assert sum(output.count("test elbo") for output in outputs) == 1
    outputs = _run(["diagnose", str(run), "--samples", "30", "--points", "3", "--draws", "20"])
    diagnosed = json.loads((run / "summary.json").read_text())
    assert sum(output.count("wrote ") for output in outputs) == 1 and (run / "diagnostics.nc").is_file()
    assert not list(run.glob("*.tmp*"))
    one = pyro_vae.evaluate(run, samples=30)
    assert ddp["log_likelihood_samples"] == one["log_likelihood_samples"] == 30
    assert _headline(ddp) == pytest.approx(_headline(one), rel=1e-6)
    assert _headline(diagnosed) == pytest.approx(_headline(one), rel=1e-6)


SCRIPT = """
import json, sys
import pyro_vae
out, overrides = sys.argv[1], json.loads(sys.argv[2])
fitted = pyro_vae.fit(out=out, overrides=overrides, pictures=False).summary
first = pyro_vae.evaluate(out, samples=30)
diagnosed = pyro_vae.diagnose(out, samples=30, points=2, draws=5)
again = pyro_vae.evaluate(out, samples=30)
print("FIGURES", json.dumps([first["test_elbo"], diagnosed["test_elbo"], again["test_elbo"], fitted["n_test"]]))
"""


def test_one_script_fits_evaluates_and_diagnoses_in_the_same_processes(tmp_path):
    # the process group formed by fit stays open for the calls after it (forming it again is unreliable)
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    port, run = _free_port(), tmp_path / "r"
    command = [sys.executable, str(script), str(run), json.dumps([*SMALL, "train.epochs=1", "eval.batch_size=4"])]
    processes = [
        subprocess.Popen(command, env=_env(rank, 2, port), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for rank in range(2)
    ]
    figures = []
    for rank, (code, output) in enumerate(_wait(processes)):
        assert code == 0, f"process {rank} exited with {code}:\n{output[-3000:]}"
        figures.append(json.loads(output.split("FIGURES ", 1)[1].splitlines()[0]))
    assert figures[0] == figures[1]  # every process returns process 0's summary
    first, diagnosed, again, n_test = figures[0]
    assert first == diagnosed == again and n_test == 22
    assert (run / "diagnostics.nc").is_file()


def test_compare_under_torchrun_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    from pyro_vae.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    argv = ["compare", *_sets(SMALL), "--estimators", "trace,meanfield", "--out", str(tmp_path / "c")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "compare runs in one process, but this is one of 2 (WORLD_SIZE=2" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "c").exists()


# -- a process that dies -------------------------------------------------------------------


@pytest.mark.parametrize("victim", [1, pytest.param(0, marks=pytest.mark.slow)], ids=["process-1", "process-0"])
def test_a_dead_process_makes_the_other_stop_with_one_line_and_the_checkpoint_stays(tmp_path, victim):
    run = tmp_path / "r"
    argv = ["fit", *_sets([*SMALL, "train.epochs=500", "train.patience=0", "train.ddp_timeout=30"])]
    processes = _start([*argv, "--no-pictures", "--out", str(run)])
    deadline = time.monotonic() + TIMEOUT
    while not (run / "checkpoint.pt").is_file() and time.monotonic() < deadline:
        assert all(p.poll() is None for p in processes), _wait(processes)
        time.sleep(0.2)
    assert (run / "checkpoint.pt").is_file(), "no epoch finished in time"
    processes[victim].send_signal(signal.SIGKILL)
    survivor = 1 - victim
    code, output = _wait([processes[survivor]], timeout=60)[0]
    _wait([processes[victim]])
    assert code == 2, output[-3000:]
    lines = [line for line in output.splitlines() if line.startswith("pyro-vae fit: error:")]
    assert len(lines) == 1 and "lost contact with the others" in lines[0], output[-3000:]
    state = load_checkpoint(run / "checkpoint.pt", TRAINING_KEYS)
    assert state["epoch"] >= 1


# -- starting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--nproc", "0"], {}, "--nproc must be a positive integer, got 0"),
        (["--nproc", "2"], {"WORLD_SIZE": "2"}, "--nproc starts the processes itself: drop it when running under"),
        ([], {"WORLD_SIZE": "two"}, "WORLD_SIZE='two' must be a positive integer"),
        ([], {"WORLD_SIZE": "2", "RANK": "0"}, "cannot join the other processes"),
    ],
    ids=["nproc-zero", "nproc-under-torchrun", "world-size-not-a-number", "no-rendezvous-address"],
)
def test_a_bad_start_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, argv, env, message):
    from pyro_vae.cli import main

    for key in ("MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["fit", *_sets(SMALL), "--out", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()
