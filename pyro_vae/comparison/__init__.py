"""Comparing ELBO estimators: gradient signal-to-noise ratios and side-by-side fits."""

from pyro_vae.comparison.compare import compare, estimator_label
from pyro_vae.comparison.report import markdown_table, write_comparison
from pyro_vae.comparison.results import Comparison, ComparisonRow, SNRPoint
from pyro_vae.comparison.snr import GradientSNR, gradient_snr

__all__ = [
    "Comparison",
    "ComparisonRow",
    "GradientSNR",
    "SNRPoint",
    "compare",
    "estimator_label",
    "gradient_snr",
    "markdown_table",
    "write_comparison",
]
