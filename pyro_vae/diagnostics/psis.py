"""Pareto-smoothed importance sampling (PSIS) diagnostic of a guide.

For a test point ``x``, the importance weights ``p(x, z) / q(z | x)`` with
``z ~ q(z | x)`` have a heavy right tail when ``q`` is too narrow. PSIS fits
a generalised Pareto distribution to the largest weights; its shape ``k-hat``
(Vehtari et al. 2024) says how reliable importance sampling (and so the
importance-sampled log-likelihood) is for that point: below 0.5 good, up to
0.7 usable, above 0.7 unreliable.
"""

from __future__ import annotations

import warnings

import numpy as np
from torch import Tensor

__all__ = ["KHAT_THRESHOLD", "MIN_PSIS_DRAWS", "psis_khat", "summarize_khat"]

#: k-hat above this marks a point whose importance weights are unreliable
KHAT_THRESHOLD = 0.7
#: fewer draws leave too short a tail to fit (ArviZ returns infinity)
MIN_PSIS_DRAWS = 25


def psis_khat(log_w: Tensor) -> np.ndarray:
    """Pareto k-hat per example from log-weights of shape ``(K, B)`` (``K >= MIN_PSIS_DRAWS``)."""
    if log_w.shape[0] < MIN_PSIS_DRAWS:
        raise ValueError(f"PSIS needs at least {MIN_PSIS_DRAWS} draws per example, got {log_w.shape[0]}")
    from pyro_vae.diagnostics._arviz import arviz  # imported on first use: ArviZ is slow to import

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ warns about every k-hat above 0.7; the summary reports them
        _, khat = arviz.psislw(log_w.detach().double().T.cpu().numpy(), reff=1.0)
    return np.asarray(khat, dtype=float)


def summarize_khat(khat: np.ndarray | None) -> dict[str, float | int | None]:
    """``psis_khat_mean``, ``psis_khat_frac_above_0.7`` and ``psis_khat_nonfinite`` (``None``: not computed).

    A non-finite k-hat (weights with no tail to fit, e.g. a binary code with
    few distinct values) counts as unreliable and is left out of the mean.
    """
    if khat is None:
        return {"psis_khat_mean": None, "psis_khat_frac_above_0.7": None, "psis_khat_nonfinite": None}
    finite = np.isfinite(khat)
    return {
        "psis_khat_mean": float(np.mean(khat[finite])) if finite.any() else None,
        "psis_khat_frac_above_0.7": float(np.mean(~(khat <= KHAT_THRESHOLD))),
        "psis_khat_nonfinite": int((~finite).sum()),
    }
