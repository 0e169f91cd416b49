"""Finished runs side by side: every number of their ``summary.json`` in one table (kinds, metrics, test figures).

``pyro-vae table`` prints it; comparing a group model with its baselines (``vae``,
a beta-VAE) on the disentanglement scores and the test ELBO is one call.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

from pyro_vae.errors import RunDirError
from pyro_vae.summary import read_summary

__all__ = ["RunsTable", "runs_table"]

#: rows first in the table, in this order (the others follow alphabetically)
LEADING = ("model", "data", "z_dim", "epochs", "test_elbo", "test_log_likelihood")


class RunsTable:
    """The figures of several runs: ``columns`` (run names) and ``rows`` (name, one value per run; ``None``: absent)."""

    def __init__(self, columns: list[str], rows: list[tuple[str, list[Any]]]) -> None:
        self.columns, self.rows = columns, rows

    def markdown(self) -> str:
        """A Markdown table, a figure per row and a run per column (numbers to 4 significant digits)."""
        lines = ["| figure | " + " | ".join(self.columns) + " |", "|---" * (len(self.columns) + 1) + "|"]
        lines += [f"| {name} | " + " | ".join(map(_cell, values)) + " |" for name, values in self.rows]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        """The same table as CSV (full precision; empty cells where a run lacks the figure)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["figure", *self.columns])
        writer.writerows([name, *("" if v is None else v for v in values)] for name, values in self.rows)
        return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def _scalars(summary: dict[str, Any]) -> dict[str, Any]:
    """The figures that fit a cell: numbers, strings and booleans (nested ones by their ``name``)."""
    out = {}
    for key, value in summary.items():
        if isinstance(value, dict) and isinstance(value.get("name"), str):
            out[key] = value["name"]
        elif isinstance(value, bool | int | float | str):
            out[key] = value
    return out


def runs_table(runs: list[str | os.PathLike[str]]) -> RunsTable:
    """The ``summary.json`` figures of ``runs``, side by side (columns named by the runs' folders).

    Raises
    ------
    RunDirError
        If a run has no ``summary.json`` (not finished, or not a run directory).
    """
    summaries = {}
    for run in map(Path, runs):
        summary = read_summary(run / "summary.json")
        if not summary:
            raise RunDirError(
                f"{str(run)!r} has no summary.json: finish the run (pyro-vae fit --resume {run}) "
                f"or evaluate it (pyro-vae evaluate {run})"
            )
        summaries[_unique(run.name or str(run), summaries)] = _scalars(summary)
    names = {key for figures in summaries.values() for key in figures}
    order = [k for k in LEADING if k in names] + sorted(names - set(LEADING))
    return RunsTable(list(summaries), [(k, [figures.get(k) for figures in summaries.values()]) for k in order])


def _unique(name: str, taken: dict[str, Any]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate
