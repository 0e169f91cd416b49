"""Dataset-level figures: ELBO and importance-sampled log-likelihood per example, in nats."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyro
import torch

from pyro_vae._device import module_device, to_device
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

__all__ = ["ExampleScores", "SplitEvaluation", "evaluate_split", "score_examples"]


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


@dataclass
class ExampleScores:
    """Per-example figures of a split (nats; higher is better), each an array of shape ``(N,)``.

    Attributes
    ----------
    elbo
        The ``K``-sample average log-weight of each example.
    log_likelihood
        ``logsumexp_k log w_k - log K`` of each example (importance-sampled ``log p(x)``).
    khat
        PSIS k-hat of each example (``None`` unless asked for and ``K >= MIN_PSIS_DRAWS``).
    """

    elbo: np.ndarray
    log_likelihood: np.ndarray
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
    as one, up to float rounding; :func:`score_examples` gives the same draws per example.
    Everything runs on the VAE's device (one process there when it is not the CPU:
    ``workers`` is then ignored); each batch's per-example figures come back to the host.

    With ``across_ranks`` inside a ``torch.distributed`` run of several processes (DDP),
    every process must call this: each scores its share of the batches (``workers`` is
    not used) and the per-batch figures are gathered, so every process gets the figures one
    process would, summed in the same order.
    """
    scores = _score_batches(vae, split, samples, batch_size, seed, psis, workers, across_ranks)
    n = len(split)
    elbo = sum(_total(batch_elbo) for batch_elbo, _, _ in scores) / n
    log_likelihood = sum(_total(batch_log_likelihood) for _, batch_log_likelihood, _ in scores) / n
    khat = _joined([batch_khat for _, _, batch_khat in scores])
    return SplitEvaluation(elbo=elbo, log_likelihood=log_likelihood, samples=samples, khat=khat)


def score_examples(
    vae: VAE,
    split: Split,
    samples: int,
    batch_size: int = 100,
    seed: int = 0,
    psis: bool = False,
    workers: int = 1,
) -> ExampleScores:
    """ELBO and importance-sampled ``log p(x)`` of every example of ``split``, shape ``(N,)`` each, in nats.

    The same draws as :func:`evaluate_split` with the same ``samples``, ``batch_size`` and ``seed``
    (its figures are these arrays' means, up to float rounding); memory is bounded the same way.
    """
    scores = _score_batches(vae, split, samples, batch_size, seed, psis, workers)
    elbo = np.concatenate([batch_elbo for batch_elbo, _, _ in scores]) if scores else np.zeros(0)
    log_likelihood = np.concatenate([ll for _, ll, _ in scores]) if scores else np.zeros(0)
    return ExampleScores(elbo, log_likelihood, _joined([batch_khat for _, _, batch_khat in scores]))


def _total(values: np.ndarray) -> float:
    """A batch's sum, added up by torch as before per-example scores existed (the same rounding)."""
    return torch.from_numpy(values).sum().item()


def _joined(parts: list[np.ndarray | None]) -> np.ndarray | None:
    """The per-batch k-hats side by side, or ``None`` if they were not computed."""
    return np.concatenate(parts) if parts and parts[0] is not None else None


def _score_batches(
    vae: VAE,
    split: Split,
    samples: int,
    batch_size: int,
    seed: int,
    psis: bool,
    workers: int,
    across_ranks: bool = False,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """Per batch: each example's ELBO and log-likelihood estimate (arrays ``(B,)``) and k-hats (or ``None``)."""
    check_workers(workers)
    device = module_device(vae)
    workers = workers if device.type == "cpu" else 1  # forked processes cannot share an accelerator
    ranks = Ranks.current() if across_ranks else Ranks()
    workers = 1 if ranks.distributed else workers
    psis = psis and samples >= MIN_PSIS_DRAWS
    was_training = vae.training
    vae.eval()
    floats = vae.output_floats(math.prod(split.x.shape[1:]))
    budget = chunk_budget(available_memory() // workers)  # each worker's share of the free memory

    def score(index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        x = to_device(batch_at(split, index * batch_size, batch_size)[0], device)
        with torch.random.fork_rng():
            torch.manual_seed(_batch_seed(seed, index))
            model, guide = vae.scoring_programs()
            log_w = log_importance_weights(model, guide, x, samples, chunk_size(x.shape[0], floats, budget))
        khat = psis_khat(log_w) if psis else None
        return log_w.mean(0).cpu().numpy(), iwae_bound(log_w).cpu().numpy(), khat  # arrays cross processes

    try:
        with pyro.validation_enabled(False):
            count = num_batches(len(split), batch_size)
            return map_sharded(score, count, ranks) if ranks.distributed else map_batches(score, count, workers)
    finally:
        vae.train(was_training)


def _batch_seed(seed: int, index: int) -> int:
    """Seed of batch ``index``: independent streams per batch, whichever process scores it."""
    return int(np.random.SeedSequence([seed % 2**64, index]).generate_state(1)[0])  # torch takes negative seeds too
