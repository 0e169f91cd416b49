"""What a comparison of estimators measured: one row per estimator and the SNR-against-K points."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyro_vae.api import FitResult

__all__ = ["Comparison", "ComparisonRow", "SNRPoint", "rows_as_dicts"]


@dataclass
class ComparisonRow:
    """One estimator's results; ELBO and log-likelihood in nats per test example."""

    estimator: str
    test_elbo: float
    test_log_likelihood: float
    log_likelihood_samples: int
    seconds_per_epoch: float
    epochs: int
    best_epoch: int
    snr_encoder_start: float
    snr_decoder_start: float
    snr_encoder_end: float
    snr_decoder_end: float


@dataclass
class SNRPoint:
    """Gradient SNR of one estimator with ``num_particles`` draws, at the reference parameters."""

    estimator: str
    num_particles: int
    snr_encoder: float
    snr_decoder: float


@dataclass
class Comparison:
    """Everything :func:`compare` measured."""

    rows: list[ComparisonRow]
    snr_vs_k: list[SNRPoint]
    histories: dict[str, list[dict[str, float]]]
    reference: str
    out: Path | None = None
    results: dict[str, FitResult] = field(default_factory=dict, repr=False)


def rows_as_dicts(comparison: Comparison) -> list[dict[str, Any]]:
    """The comparison rows as plain dicts (for CSV and JSON)."""
    return [asdict(row) for row in comparison.rows]
