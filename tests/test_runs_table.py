"""``pyro-vae table``: finished runs' figures side by side, and the inputs it refuses."""

from __future__ import annotations

import csv
import io
import json

import pytest

from pyro_vae.cli.main import main
from pyro_vae.comparison.runs_table import runs_table

GROUP = {
    "model": "ada_gvae",
    "test_elbo": -40.123456,
    "mig": 0.31,
    "prior": {"name": "normal"},
    "event_shape": [1, 8, 8],
    "versions": {"torch": "x"},
}
BASELINE = {"model": "vae", "test_elbo": -41.5, "mig": 0.12, "test_log_likelihood": -39.0}


def _run(root, name, summary):
    folder = root / name
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_the_table_puts_each_figure_in_a_row_and_each_run_in_a_column(tmp_path):
    table = runs_table([_run(tmp_path, "ada", GROUP), _run(tmp_path, "vae", BASELINE)])
    assert table.columns == ["ada", "vae"]
    rows = dict(table.rows)
    assert [name for name, _ in table.rows][:3] == ["model", "test_elbo", "test_log_likelihood"]
    assert rows["mig"] == [0.31, 0.12] and rows["test_log_likelihood"] == [None, -39.0]
    assert rows["prior"] == ["normal", None]  # a named component by its name
    assert "event_shape" not in rows and "versions" not in rows  # lists and tables do not fit a cell
    assert "| test_elbo | -40.12 | -41.5 |" in table.markdown()
    parsed = list(csv.reader(io.StringIO(table.csv())))
    assert parsed[0] == ["figure", "ada", "vae"] and ["test_elbo", "-40.123456", "-41.5"] in parsed


def test_runs_with_the_same_folder_name_get_distinct_columns(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    table = runs_table([_run(tmp_path / "a", "run", GROUP), _run(tmp_path / "b", "run", BASELINE)])
    assert table.columns == ["run", "run (2)"]


def test_the_command_prints_and_writes_the_table(tmp_path, capsys):
    runs = [str(_run(tmp_path, "ada", GROUP)), str(_run(tmp_path, "vae", BASELINE))]
    assert main(["table", *runs, "--out", str(tmp_path / "t.csv")]) == 0
    assert "| mig | 0.31 | 0.12 |" in capsys.readouterr().out
    assert (tmp_path / "t.csv").read_text().startswith("figure,ada,vae\n")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("unfinished", "has no summary.json: finish the run"),
        ("bad-suffix", "--out must end in .md or .csv"),
        ("existing-out", "exists: choose another file name or remove it first"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, setup, message):
    run = _run(tmp_path, "ada", GROUP)
    out = tmp_path / ("t.txt" if setup == "bad-suffix" else "t.md")
    if setup == "unfinished":
        (run / "summary.json").unlink()
    if setup == "existing-out":
        out.write_text("mine")
    assert main(["table", str(run), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert out.read_text() == "mine" if setup == "existing-out" else not out.exists()
