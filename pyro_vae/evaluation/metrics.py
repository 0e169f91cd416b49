"""Dataset-level figures: ELBO and importance-sampled log-likelihood per example, in nats."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyro
import torch

from pyro_vae._ranks import Ranks, map_sharded
from pyro_vae._workers import check_workers, map_batches
from pyro_vae.data import Split, batch_at, num_batches
from pyro_vae.diagnostics.psis import MIN_PSIS_DRAWS, psis_khat
from pyro_vae.evaluation.importance import (
    available_memory,
    chunk_budget,
    chunk_size,
    iwae_bound,
    log_importance_weights,
)

if TYPE_CHECKING:
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
    vae: VAE,
    split: Split,
    samples: int,
    batch_size: int = 100,
    seed: int = 0,
    psis: bool = False,
    workers: int = 1,
    across_ranks: bool = False,
) -> SplitEvaluation:
    """ELBO and importance-sampled ``log p(x)`` of ``vae`` on ``split`` with ``samples`` draws each.

    With ``psis`` (and at least ``MIN_PSIS_DRAWS`` samples) also the PSIS
    k-hat of every example, from the same importance weights. The draws are
    chunked to a size set from the available memory (:func:`chunk_budget`), and
    the distributions skip their per-draw argument checks: the split's support
    was checked once, when the data were prepared (:func:`check_support`).
    Each batch draws from its own seed, derived from ``seed`` and its position,
    so ``workers`` forked processes (:func:`map_batches`) give the same figures
    as one, up to float rounding.

    With ``across_ranks`` inside a ``torch.distributed`` run of several processes (DDP),
    every process must call this: each scores its share of the batches (``workers`` is
    not used) and the per-batch sums are gathered, so every process gets the figures one
    process would, summed in the same order.
    """
    check_workers(workers)
    ranks = Ranks.current() if across_ranks else Ranks()
    workers = 1 if ranks.distributed else workers
    psis = psis and samples >= MIN_PSIS_DRAWS
    was_training = vae.training
    vae.eval()
    floats = math.prod(split.x.shape[1:]) * vae.likelihood.params_per_dim
    budget = chunk_budget(available_memory() // workers)  # each worker's share of the free memory

    def score(index: int) -> tuple[float, float, np.ndarray | None]:
        x, _ = batch_at(split, index * batch_size, batch_size)
        with torch.random.fork_rng():
            torch.manual_seed(_batch_seed(seed, index))
            model, guide = vae.scoring_programs()
            log_w = log_importance_weights(model, guide, x, samples, chunk_size(x.shape[0], floats, budget))
        khat = psis_khat(log_w) if psis else None
        return log_w.mean(0).sum().item(), iwae_bound(log_w).sum().item(), khat

    try:
        with pyro.validation_enabled(False):
            count = num_batches(len(split), batch_size)
            scores = map_sharded(score, count, ranks) if ranks.distributed else map_batches(score, count, workers)
    finally:
        vae.train(was_training)
    n = len(split)
    elbo = sum(batch_elbo for batch_elbo, _, _ in scores) / n
    log_likelihood = sum(batch_log_likelihood for _, batch_log_likelihood, _ in scores) / n
    khat = np.concatenate([batch_khat for _, _, batch_khat in scores]) if psis else None
    return SplitEvaluation(elbo=elbo, log_likelihood=log_likelihood, samples=samples, khat=khat)


def _batch_seed(seed: int, index: int) -> int:
    """Seed of batch ``index``: independent streams per batch, whichever process scores it."""
    return int(np.random.SeedSequence([seed % 2**64, index]).generate_state(1)[0])  # torch takes negative seeds too
