"""train.loggers: TensorBoard event files written each epoch and read back; the missing-package error."""

from __future__ import annotations

import sys

import pytest

import pyro_vae
from pyro_vae.errors import ConfigError
from pyro_vae.training.loggers import TENSORBOARD_FOLDER

# the dev extra installs tensorboard; without it these tests are skipped, not broken
EventAccumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator").EventAccumulator
TINY = {"data.limit": 200, "model.network.hidden": [16], "eval.samples": 10, "epochs": 3}


def _events(run_dir) -> EventAccumulator:
    accumulator = EventAccumulator(str(run_dir / TENSORBOARD_FOLDER), size_guidance={"images": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator


def test_tensorboard_scalars_and_pictures_read_back(tmp_path):
    result = pyro_vae.fit(out=tmp_path / "run", loggers=["csv", "tensorboard"], pictures=False, **TINY)
    events = _events(result.run_dir)
    tags = events.Tags()
    for name in ("train_elbo", "val_elbo", "lr", "kl_weight", "seconds"):
        values = [(e.step, e.value) for e in events.Scalars(f"epoch/{name}")]
        expected = [(row["epoch"], pytest.approx(row[name], rel=1e-6)) for row in result.history]
        assert values == expected, name
    assert {"samples", "reconstructions"} <= set(tags["images"])
    assert [e.step for e in events.Images("samples")] == [1, 2, 3]
    assert (result.run_dir / "metrics.csv").is_file()  # csv stays


def test_resumed_run_continues_the_event_steps(tmp_path):
    pyro_vae.fit(out=tmp_path / "run", loggers=["tensorboard"], pictures=False, **TINY)
    pyro_vae.resume(tmp_path / "run", overrides=["train.epochs=5"], pictures=False)
    steps = [e.step for e in _events(tmp_path / "run").Scalars("epoch/val_elbo")]
    assert steps == [1, 2, 3, 4, 5]


def test_csv_is_the_default_and_writes_no_events(tmp_path):
    result = pyro_vae.fit(out=tmp_path / "run", pictures=False, **TINY)
    assert result.config.train.loggers == ["csv"]
    assert not (tmp_path / "run" / TENSORBOARD_FOLDER).exists()


def test_missing_tensorboard_is_one_line_with_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard now fails, find_spec finds nothing
    with pytest.raises(ConfigError, match=r"pip install 'pyro-vae\[tensorboard\]'") as error:
        pyro_vae.fit(out=tmp_path / "run", loggers=["tensorboard"], **TINY)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()  # refused before the run directory is made


@pytest.mark.parametrize(
    ("loggers", "match"),
    [(["wandb"], "train.loggers must be a list of csv, tensorboard"), ("csv", "train.loggers must be a list")],
    ids=["unknown-name", "not-a-list"],
)
def test_bad_loggers_are_refused(loggers, match):
    with pytest.raises(ConfigError, match=match):
        pyro_vae.resolve_config(None, loggers=loggers)


def test_tensorboard_needs_a_run_directory():
    with pytest.raises(ConfigError, match="writes into the run directory"):
        pyro_vae.fit(loggers=["tensorboard"], **TINY)


def test_logger_import_failure_is_the_same_one_line(tmp_path, monkeypatch):
    from pyro_vae.training.loggers import TensorBoardLogger

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # the package vanished after validation
    with pytest.raises(ConfigError, match=r"needs the tensorboard package.*pip install 'pyro-vae\[tensorboard\]'"):
        TensorBoardLogger(tmp_path / "tb")


def test_every_configurable_logger_has_a_factory():
    from pyro_vae.config.schema import LOGGERS
    from pyro_vae.training.loggers import LOGGER_FACTORIES

    assert set(LOGGER_FACTORIES) == set(LOGGERS)
