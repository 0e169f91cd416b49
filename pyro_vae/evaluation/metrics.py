"""Dataset-level figures: ELBO and importance-sampled log-likelihood per example, in nats."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyro
import torch

from pyro_vae.data import Split, iterate_batches
from pyro_vae.diagnostics.psis import MIN_PSIS_DRAWS, psis_khat
from pyro_vae.evaluation.importance import chunk_budget, chunk_size, iwae_bound, log_importance_weights
from pyro_vae.vae import VAE

__all__ = ["SplitEvaluation", "evaluate_split"]


@dataclass
class SplitEvaluation:
    """Per-example averages over a split (nats; higher is better).

    Attributes
    ----------
    elbo
        Mean over examples of the ``K``-sample average log-weight.
    log_likelihood
        Mean over examples of ``logsumexp_k log w_k - log K``.
    samples
        ``K``.
    khat
        PSIS k-hat per example (``None`` unless asked for and ``K >= MIN_PSIS_DRAWS``).
    """

    elbo: float
    log_likelihood: float
    samples: int
    khat: np.ndarray | None = None


def evaluate_split(
    vae: VAE, split: Split, samples: int, batch_size: int = 100, seed: int = 0, psis: bool = False
) -> SplitEvaluation:
    """ELBO and importance-sampled ``log p(x)`` of ``vae`` on ``split`` with ``samples`` draws each.

    With ``psis`` (and at least ``MIN_PSIS_DRAWS`` samples) also the PSIS
    k-hat of every example, from the same importance weights. The draws are
    chunked to a size set from the available memory (:func:`chunk_budget`), and
    the distributions skip their per-draw argument checks: the split's support
    was checked once, when the data were prepared (:func:`check_support`).
    """
    psis = psis and samples >= MIN_PSIS_DRAWS
    khats = []
    was_training = vae.training
    vae.eval()
    floats = math.prod(split.x.shape[1:]) * vae.likelihood.params_per_dim
    elbo_sum = ll_sum = 0.0
    budget = chunk_budget()
    with torch.random.fork_rng(), pyro.validation_enabled(False):
        torch.manual_seed(seed)
        for x, _ in iterate_batches(split, batch_size):
            log_w = log_importance_weights(vae.model, vae.guide, x, samples, chunk_size(x.shape[0], floats, budget))
            elbo_sum += log_w.mean(0).sum().item()
            ll_sum += iwae_bound(log_w).sum().item()
            if psis:
                khats.append(psis_khat(log_w))
    vae.train(was_training)
    n = len(split)
    khat = np.concatenate(khats) if psis else None
    return SplitEvaluation(elbo=elbo_sum / n, log_likelihood=ll_sum / n, samples=samples, khat=khat)
