"""A run directory belongs to one process, and nothing it did not create is deleted (issue 13, section 2).

Fault kinds and their members (each member is a test case below):

=============================  =====================================================================
kind                           members
=============================  =====================================================================
two processes, one directory   forced race of two ``fit --out D`` (8 forked pairs; 8 CLI pairs, slow);
                               ``fit --out`` / ``--resume`` / ``evaluate`` / ``diagnose`` while another
                               process holds the directory; another thread holds it; a stale lock
                               file of a dead process
shared temporary names         temporary names differ per process and per write; an exception or
                               Ctrl-C inside a write leaves no temporary file
clean-up of others' files      the loser of a race deletes nothing; a failed first epoch removes only
                               its own files (a file a user adds meanwhile stays, so does the folder)
the unstarted-run circle       Ctrl-C during the first checkpoint write; SIGKILL during it (real,
                               forked); hand-made leftovers (lock alone, lock + config, + best.pt,
                               config + temporary, + legacy ``best.pt.tmp``): ``fit --out D``
                               replaces them and ``--resume D`` says to do that; a folder of the
                               user's own files (config.toml alone, best.pt alone, lock + best.pt,
                               config + best.pt unmarked, with notes.txt or data.tmp) is never taken
                               for a leftover, and ``--resume`` is not suggested for it
training ended, files missing  summary and pictures lost after the last epoch; Ctrl-C during the
                               final evaluation (CLI: the hint says --resume, which completes it);
                               a run that stopped early; a complete run is refused as before
OS errors on a run directory   ENOSPC, EDQUOT, EROFS, EACCES, EIO on checkpoint.pt, best.pt,
                               config.toml, metrics.csv, summary.json, a picture; EROFS making the
                               folder and the lock file; ENOSPC on the command line; ENOTDIR
                               (``--out`` below a file), EEXIST (``sample --out`` below a file); a
                               read-only folder (not as root); a checkpoint is serialised in memory
                               (torch.save to a path reports a full disk as a RuntimeError); each one
                               line naming the path and the cause, no temporary file left
=============================  =====================================================================
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

import pyro_vae
import pyro_vae._files as files
from pyro_vae.cli import main
from pyro_vae.errors import ConfigError, PyroVAEError, RunDirError
from pyro_vae.training import hold_lock
from pyro_vae.training import lock as lock_module
from pyro_vae.training.lock import LOCK_NAME

TINY = {
    "data.limit": 300,
    "train.epochs": 1,
    "train.batch_size": 64,
    "eval.samples": 5,
    "eval.batch_size": 100,
    "model.network.hidden": [16],
}
OVERRIDES = [f"{key}={json.dumps(value)}" for key, value in TINY.items()]
RUN_FILES = {"config.toml", "checkpoint.pt", "best.pt", "metrics.csv", "summary.json"}
FORK = multiprocessing.get_context("fork")


def tiny_fit(out: Path, *extra: str, **keywords) -> pyro_vae.FitResult:
    return pyro_vae.fit(out=out, overrides=[*OVERRIDES, *extra], pictures=keywords.pop("pictures", False), **keywords)


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if files.is_temporary_name(p.name) or p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A complete two-epoch run, to copy."""
    out = tmp_path_factory.mktemp("finished") / "run"
    tiny_fit(out, "train.epochs=2", pictures=True)
    return out


def copy_run(source: Path, target: Path) -> Path:
    target.mkdir()
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


# -- two processes, one directory -------------------------------------------------------------


def _one_thread() -> None:
    """A forked child computes on one thread: OpenMP's pool, started by earlier tests in the parent, is not
    carried over by fork, and a parallel region in the child would wait for it forever."""
    torch.set_num_threads(1)


def _race_child(out: str, barrier, results) -> None:
    _one_thread()
    barrier.wait()
    try:
        tiny_fit(Path(out))
        results.put((os.getpid(), 0, ""))
    except PyroVAEError as err:
        results.put((os.getpid(), 2, str(err)))
    except BaseException as err:
        results.put((os.getpid(), 1, repr(err)))


def _race(out: Path) -> list[tuple[int, int, str]]:
    barrier, results = FORK.Barrier(2), FORK.Queue()
    children = [FORK.Process(target=_race_child, args=(str(out), barrier, results)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    return sorted((results.get(timeout=5) for _ in children), key=lambda r: r[1])


def _check_race(out: Path, statuses: list[int], messages: list[str], winner: int | None) -> None:
    assert sorted(statuses) == [0, 2], messages
    loser_message = messages[statuses.index(2)]
    assert f"is in use by process {winner}" in loser_message or "will not be overwritten" in loser_message
    assert names(out) >= RUN_FILES and not temporaries(out)
    assert LOCK_NAME not in names(out)
    _, config = pyro_vae.load_run(out)  # intact: loads and passes every identity check
    assert config.model.network["hidden"] == [16]
    assert json.loads((out / "summary.json").read_text())["epochs"] == 1


@pytest.mark.parametrize("pair", range(8))
def test_forced_race_of_two_fits_leaves_one_intact_run(tmp_path, pair):
    out = tmp_path / f"race{pair}"
    results = _race(out)
    statuses = [status for _, status, _ in results]
    winner = next((pid for pid, status, _ in results if status == 0), None)
    _check_race(out, statuses, [message for _, _, message in results], winner)


@pytest.mark.slow
def test_forced_race_of_two_cli_processes(tmp_path):
    """Eight pairs of real ``pyro-vae fit --out D`` processes started together."""
    wrong = []
    for pair in range(8):
        out = tmp_path / f"race{pair}"
        argv = [sys.executable, "-m", "pyro_vae", "fit", "--quiet", "--no-pictures", "--out", str(out)]
        argv += [arg for text in OVERRIDES for arg in ("--set", text)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        procs = [subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
        outcomes = [(proc.wait(300), proc.stderr.read(), proc.pid) for proc in procs]
        winner = next((pid for status, _, pid in outcomes if status == 0), None)
        try:
            _check_race(out, [s for s, _, _ in outcomes], [m for _, m, _ in outcomes], winner)
        except AssertionError as err:
            wrong.append((pair, str(err)))
    assert not wrong


def _hold(root: str, held, release) -> None:
    with hold_lock(Path(root)):
        held.set()
        release.wait(60)


@pytest.fixture
def held_by_another_process():
    """``hold(root)``: a forked process takes the lock on ``root``; returns its pid."""
    children = []

    def hold(root: Path) -> int:
        held, release = FORK.Event(), FORK.Event()
        child = FORK.Process(target=_hold, args=(str(root), held, release))
        child.start()
        assert held.wait(30)
        children.append((child, release))
        return child.pid

    yield hold
    for child, release in children:
        release.set()
        child.join(30)


HELD_COMMANDS = {
    "fit-out": (False, lambda run: tiny_fit(run)),
    "resume": (True, lambda run: pyro_vae.resume(run, overrides=["train.epochs=3"], pictures=False)),
    "evaluate": (True, lambda run: pyro_vae.evaluate(run)),
    "diagnose": (True, lambda run: pyro_vae.diagnose(run, points=2, draws=5)),
}


@pytest.mark.parametrize("command", HELD_COMMANDS, ids=HELD_COMMANDS)
def test_a_directory_held_by_another_process_is_refused_untouched(finished, tmp_path, held_by_another_process, command):
    existing, call = HELD_COMMANDS[command]
    run = copy_run(finished, tmp_path / "run") if existing else tmp_path / "run"
    run.mkdir(exist_ok=True)
    pid = held_by_another_process(run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.name != LOCK_NAME}
    with pytest.raises(RunDirError, match=rf"^run directory '{run}' is in use by process {pid}: "):
        call(run)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.name != LOCK_NAME} == before


def test_another_thread_of_the_same_process_is_refused_too(finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with hold_lock(run):
            held.set()
            release.wait(60)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(30)
        with pytest.raises(RunDirError, match=rf"is in use by process {os.getpid()}: "):
            pyro_vae.evaluate(run)
    finally:
        release.set()
        thread.join(30)
    assert pyro_vae.evaluate(run)["epochs"] == 2  # free again once the thread let go


def test_the_lock_is_gone_after_each_command_and_a_stale_one_blocks_nothing(finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    (run / LOCK_NAME).write_text("999999999\n")  # left by a process killed while it held the lock
    pyro_vae.resume(run, overrides=["train.epochs=3"], pictures=False)
    assert LOCK_NAME not in names(run)
    new = tmp_path / "new"
    new.mkdir()
    (new / LOCK_NAME).write_text("")
    tiny_fit(new)
    assert names(new) == RUN_FILES


# -- temporary names and clean-up -------------------------------------------------------------


def test_temporary_names_are_per_process_and_per_write(tmp_path):
    target = tmp_path / "checkpoint.pt"
    first, second = files.temporary_path(target), files.temporary_path(target)
    assert first != second and first.parent == tmp_path
    assert first.name.startswith(f".checkpoint.pt.{os.getpid()}.") and files.is_temporary_name(first.name)


@pytest.mark.parametrize("failure", [ValueError("boom"), KeyboardInterrupt()], ids=["exception", "ctrl-c"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, failure):
    target = tmp_path / "summary.json"
    target.write_text("old")

    def write(tmp: Path) -> None:
        tmp.write_text("half")
        raise failure

    with pytest.raises(type(failure)):
        files.atomic_write(target, write)
    assert names(tmp_path) == {"summary.json"} and target.read_text() == "old"


def test_a_failed_first_epoch_removes_only_what_the_run_wrote(tmp_path, monkeypatch):
    out = tmp_path / "run"

    def fail_in_first_epoch(self):
        (out / "notes.txt").write_text("the user's")
        raise KeyboardInterrupt

    monkeypatch.setattr(pyro_vae.training.Trainer, "train_epoch", fail_in_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        tiny_fit(out)
    assert names(out) == {"notes.txt"}


# -- a run stopped before its first epoch was saved ---------------------------------------------


def test_ctrl_c_during_the_first_checkpoint_write_leaves_nothing(tmp_path, monkeypatch):
    out, own = tmp_path / "run", tmp_path / "own"
    own.mkdir()

    def interrupted(tmp: Path, data: bytes) -> None:
        tmp.write_bytes(data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(files, "_write_exclusive", interrupted)
    for folder in (out, own):
        with pytest.raises(KeyboardInterrupt):
            tiny_fit(folder)
    assert not out.exists() and own.is_dir() and not any(own.iterdir())
    monkeypatch.undo()
    assert tiny_fit(out).run_dir == out


def _killed_in_first_write(out: str) -> None:
    _one_thread()

    def killed(tmp: Path, data: bytes) -> None:
        if tmp.name.startswith(".best.pt."):
            tmp.write_bytes(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        tmp.write_bytes(data)

    files._write_exclusive = killed
    tiny_fit(Path(out))


def test_sigkill_during_the_first_checkpoint_write_has_one_way_on(tmp_path, capsys):
    out = tmp_path / "run"
    child = FORK.Process(target=_killed_in_first_write, args=(str(out),))
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    assert {"config.toml", LOCK_NAME} <= names(out) and temporaries(out)
    assert main(["fit", "--resume", str(out)]) == 2
    assert f"start it again with pyro-vae fit --out {out}" in capsys.readouterr().err
    log = []
    tiny_fit(out, log=log.append)
    assert names(out) == RUN_FILES and not temporaries(out)
    assert any(line.startswith("replacing the leftover") for line in log)


LEFTOVERS = {
    "lock-config": {LOCK_NAME: "", "config.toml": "seed = 1\n"},
    "lock-config-best": {LOCK_NAME: "12\n", "config.toml": "seed = 1\n", "best.pt": "x"},
    "config-temporary": {"config.toml": "seed = 1\n", ".best.pt.999999999.0123abcd.tmp": "x"},
    "config-legacy-temporary": {"config.toml": "seed = 1\n", "best.pt.tmp": "x"},
    "lock-only": {LOCK_NAME: "4\n"},
}


@pytest.mark.parametrize("leftover", LEFTOVERS.values(), ids=LEFTOVERS)
def test_resume_and_fit_agree_on_an_unstarted_leftover(tmp_path, leftover):
    out = tmp_path / "run"
    out.mkdir()
    for name, text in leftover.items():
        (out / name).write_text(text)
    with pytest.raises(RunDirError, match=rf"holds no finished epoch.*pyro-vae fit --out {out} \(the leftover"):
        pyro_vae.resume(out)
    tiny_fit(out)
    assert names(out) == RUN_FILES


USERS_OWN = {
    "config-only": {"config.toml": "seed = 1\n"},
    "config-and-notes": {"config.toml": "seed = 1\n", LOCK_NAME: "", "notes.txt": "mine"},
    "a-user-tmp-file": {"data.tmp": "mine", LOCK_NAME: ""},
    "best-only": {"best.pt": "a model"},
    "lock-and-best": {LOCK_NAME: "", "best.pt": "a model"},
    "config-and-best-unmarked": {"config.toml": "seed = 1\n", "best.pt": "a model"},
}


@pytest.mark.parametrize("contents", USERS_OWN.values(), ids=USERS_OWN)
def test_a_folder_of_the_users_files_is_never_taken_for_a_leftover(tmp_path, contents):
    out = tmp_path / "run"
    out.mkdir()
    for name, text in contents.items():
        (out / name).write_text(text)
    with pytest.raises(RunDirError, match=r"will not be overwritten: choose another --out$"):
        tiny_fit(out)
    with pytest.raises(RunDirError, match=r"has no checkpoint\.pt: it is not a pyro-vae run directory"):
        pyro_vae.resume(out)
    assert names(out) == set(contents)
    assert all((out / name).read_text() == text for name, text in contents.items() if name != LOCK_NAME)


# -- training ended, final files missing ---------------------------------------------------------


def test_resume_completes_a_run_whose_summary_and_pictures_are_missing(finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    expected = json.loads((run / "summary.json").read_text())
    pictures = sorted(p.name for p in run.glob("*.png"))
    for path in [run / "summary.json", *run.glob("*.png")]:
        path.unlink()
    checkpoint = (run / "checkpoint.pt").read_bytes()
    result = pyro_vae.resume(run)
    assert len(result.history) == 2 and (run / "checkpoint.pt").read_bytes() == checkpoint
    summary = json.loads((run / "summary.json").read_text())
    for key in ("epochs", "best_epoch", "stopped_early", "test_elbo", "test_log_likelihood", "train_seconds"):
        assert summary[key] == expected[key], key
    assert sorted(p.name for p in run.glob("*.png")) == pictures
    with pytest.raises(ConfigError, match=r"already trained 2 of 2 epochs and its summary is written"):
        pyro_vae.resume(run)


def test_ctrl_c_during_the_final_evaluation_is_completed_by_the_resume_it_suggests(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    monkeypatch.setattr(pyro_vae.api, "make_summary", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    argv = ["fit", "--no-pictures", "--no-progress", "--quiet", "--out", str(out)]
    assert main([*argv, *(arg for text in OVERRIDES for arg in ("--set", text))]) == 130
    assert f"continue with pyro-vae fit --resume {out}" in capsys.readouterr().err
    assert not (out / "summary.json").exists()
    monkeypatch.undo()
    assert main(["fit", "--resume", str(out), "--quiet", "--no-progress"]) == 0
    assert json.loads((out / "summary.json").read_text())["epochs"] == 1
    assert (out / "samples.png").is_file()


def test_resume_completes_a_run_that_stopped_early_and_keeps_it_stopped(tmp_path):
    out = tmp_path / "run"
    result = tiny_fit(out, "train.epochs=30", "train.patience=1", "train.lr=0.5")
    assert result.summary["stopped_early"], "the test needs a run that stops early"
    (out / "summary.json").unlink()
    resumed = pyro_vae.resume(out, pictures=False)
    assert len(resumed.history) == len(result.history)
    assert json.loads((out / "summary.json").read_text())["stopped_early"] is True


# -- OS errors ----------------------------------------------------------------------------------

ERRORS = {
    "ENOSPC": (errno.ENOSPC, "no space left on the device"),
    "EDQUOT": (errno.EDQUOT, "the disk quota is exceeded"),
    "EROFS": (errno.EROFS, "the file system is read-only"),
    "EACCES": (errno.EACCES, "permission denied"),
    "EIO": (errno.EIO, "input/output error"),
}
TARGETS = ["config.toml", "best.pt", "checkpoint.pt", "metrics.csv", "summary.json", "samples.png"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("code", ERRORS, ids=ERRORS)
def test_an_os_error_on_a_run_file_is_one_line_and_leaves_no_partial_file(tmp_path, monkeypatch, code, target):
    number, words = ERRORS[code]
    out = tmp_path / "run"
    real = files._write_exclusive

    def failing(tmp: Path, data: bytes) -> None:
        if tmp.name.startswith(f".{target}."):
            tmp.write_bytes(data[: len(data) // 2])  # the disk filled up half way
            raise OSError(number, os.strerror(number))
        real(tmp, data)

    monkeypatch.setattr(files, "_write_exclusive", failing)
    with pytest.raises(RunDirError) as caught:
        tiny_fit(out, pictures=True)
    message = str(caught.value)
    assert message.startswith(f"cannot write '{out / target}': {words}")
    assert message.endswith(f"({code})") and "\n" not in message
    assert not out.exists() or not temporaries(out)


def _refuse(number: int):
    def refuse(*args, **kwargs):
        raise OSError(number, os.strerror(number))

    return refuse


FOLDER_STEPS = {
    "create": (lambda m: m.setattr(Path, "mkdir", _refuse(errno.EROFS)), "cannot create the run directory"),
    "lock": (lambda m: m.setattr(lock_module, "_open", _refuse(errno.EROFS)), "cannot lock the run directory"),
}


@pytest.mark.parametrize("step", FOLDER_STEPS, ids=FOLDER_STEPS)
def test_a_read_only_file_system_is_one_line_when_the_run_starts(tmp_path, monkeypatch, capsys, step):
    patch, words = FOLDER_STEPS[step]
    out = tmp_path / "run"
    patch(monkeypatch)
    assert main(["fit", "--quiet", "--out", str(out), *(arg for text in OVERRIDES for arg in ("--set", text))]) == 2
    assert capsys.readouterr().err == (
        f"pyro-vae fit: error: {words} '{out}': the file system is read-only: write elsewhere (EROFS)\n"
    )


def test_a_full_disk_is_one_line_on_the_command_line(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    real = files._write_exclusive

    def full(tmp: Path, data: bytes) -> None:
        if tmp.name.startswith(".checkpoint.pt."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(tmp, data)

    monkeypatch.setattr(files, "_write_exclusive", full)
    assert main(["fit", "--quiet", "--out", str(out), *(arg for text in OVERRIDES for arg in ("--set", text))]) == 2
    assert capsys.readouterr().err == (
        f"pyro-vae fit: error: cannot write '{out / 'checkpoint.pt'}': no space left on the device: free some "
        "space or write elsewhere (ENOSPC)\n"
    )
    assert not out.exists()  # nothing was saved: the run is removed, as after Ctrl-C


def test_an_out_below_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "run"
    assert main(["fit", "--quiet", "--out", str(out), *(arg for text in OVERRIDES for arg in ("--set", text))]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"pyro-vae fit: error: cannot create the run directory '{out}': a part of the path is a file, " + (
        "not a folder: choose another path (ENOTDIR)"
    )


def test_a_sample_picture_below_a_file_is_one_line(finished, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    target = tmp_path / "file" / "grid.png"
    assert main(["sample", str(finished), "--n", "4", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == f"pyro-vae sample: error: cannot create the folder '{target.parent}': a file of that name is " + (
        "in the way of a folder: choose another path (EEXIST)\n"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_one_line(finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    run.chmod(0o500)
    try:
        with pytest.raises(RunDirError, match=r"cannot lock the run directory .*permission denied"):
            pyro_vae.evaluate(run)
    finally:
        run.chmod(0o700)


def test_a_checkpoint_is_written_from_memory_so_a_full_disk_is_an_os_error(tmp_path, monkeypatch):
    """``torch.save`` to a path reports a full disk as ``RuntimeError: unexpected pos``; the bytes are written here."""
    saved = []
    monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: saved.append(type(f).__name__) or f.write(b"x"))
    from pyro_vae.training.checkpoint import save_checkpoint

    state = {"config": {"seed": 0}, "event_shape": [4], "classes": []}
    save_checkpoint(state, tmp_path / "checkpoint.pt")
    assert saved == ["BytesIO"] and (tmp_path / "checkpoint.pt").read_bytes() == b"x"
