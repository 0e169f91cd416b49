"""The files a comparison writes: CSV tables, a Markdown table, learning curves and SNR against K."""

from __future__ import annotations

import csv
from dataclasses import asdict, fields
from pathlib import Path

from pyro_vae._files import atomic_write
from pyro_vae.comparison.results import Comparison, ComparisonRow, SNRPoint, rows_as_dicts
from pyro_vae.comparison.snr import snr_estimators_refused
from pyro_vae.plots.comparison import save_learning_curves, save_snr_vs_k

__all__ = ["markdown_table", "write_comparison"]

_COLUMNS = (
    ("estimator", "estimator", "{}"),
    ("test_elbo", "test ELBO", "{:.2f}"),
    ("test_log_likelihood", "test log p(x)", "{:.2f}"),
    ("seconds_per_epoch", "s/epoch", "{:.2f}"),
    ("best_epoch", "best epoch", "{}"),
    ("snr_encoder_start", "enc SNR start", "{:.3f}"),
    ("snr_encoder_end", "enc SNR end", "{:.3f}"),
    ("snr_decoder_start", "dec SNR start", "{:.3f}"),
    ("snr_decoder_end", "dec SNR end", "{:.3f}"),
)


def markdown_table(comparison: Comparison) -> str:
    """The comparison rows as a Markdown table (nats per test example; SNR = mean |E g| / sd g)."""
    header = "| " + " | ".join(title for _, title, _ in _COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in _COLUMNS) + "|"
    lines = [header, rule]
    for row in comparison.rows:
        values = asdict(row)
        lines.append("| " + " | ".join(fmt.format(values[key]) for key, _, fmt in _COLUMNS) + " |")
    samples = comparison.rows[0].log_likelihood_samples
    lines += ["", f"log p(x): importance sampled with K = {samples} for every estimator."]
    reference = comparison.results.get(comparison.reference)
    refused = snr_estimators_refused(reference.config.model) if reference is not None else {}
    lines += [f"No gradient SNR against K: {reason}." for reason in refused.values()]
    return "\n".join(lines) + "\n"


def _write_csv(rows: list[dict], columns: list[str], path: Path) -> None:
    """Write ``rows`` as CSV, atomically (a per-process temporary name renamed over ``path``)."""

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


def write_comparison(comparison: Comparison, folder: Path) -> list[Path]:
    """Write the comparison files: CSV and Markdown tables, learning curves, SNR against K.

    ``comparison.csv``, ``comparison.md``, ``snr_vs_k.csv``, ``learning_curves.png``
    and ``snr_vs_k.png`` (when the SNR-vs-K curve was measured).
    """
    written = [folder / "comparison.csv", folder / "comparison.md", folder / "snr_vs_k.csv"]
    _write_csv(rows_as_dicts(comparison), [f.name for f in fields(ComparisonRow)], written[0])
    atomic_write(written[1], lambda tmp: tmp.write_text(markdown_table(comparison)))
    _write_csv([asdict(p) for p in comparison.snr_vs_k], [f.name for f in fields(SNRPoint)], written[2])
    written.append(save_learning_curves(comparison.histories, folder / "learning_curves.png"))
    if comparison.snr_vs_k:  # none when iwae and dreg cannot train the model (see snr_estimators_refused)
        written.append(save_snr_vs_k(comparison.snr_vs_k, comparison.reference, folder / "snr_vs_k.png"))
    return written
