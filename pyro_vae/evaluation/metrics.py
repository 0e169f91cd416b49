"""Dataset-level figures: ELBO and importance-sampled log-likelihood per example, in nats."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from pyro_vae.data import Split, iterate_batches
from pyro_vae.evaluation.importance import chunk_size, iwae_bound, log_importance_weights
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
    """

    elbo: float
    log_likelihood: float
    samples: int


def evaluate_split(vae: VAE, split: Split, samples: int, batch_size: int = 100, seed: int = 0) -> SplitEvaluation:
    """ELBO and importance-sampled ``log p(x)`` of ``vae`` on ``split`` with ``samples`` draws each."""
    was_training = vae.training
    vae.eval()
    floats = math.prod(split.x.shape[1:]) * vae.likelihood.params_per_dim
    elbo_sum = ll_sum = 0.0
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for x, _ in iterate_batches(split, batch_size):
            log_w = log_importance_weights(vae.model, vae.guide, x, samples, chunk_size(x.shape[0], floats))
            elbo_sum += log_w.mean(0).sum().item()
            ll_sum += iwae_bound(log_w).sum().item()
    vae.train(was_training)
    n = len(split)
    return SplitEvaluation(elbo=elbo_sum / n, log_likelihood=ll_sum / n, samples=samples)
