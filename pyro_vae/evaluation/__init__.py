"""Evaluation: importance weights, ELBO and importance-sampled log-likelihood."""

from pyro_vae.evaluation.importance import (
    available_memory,
    chunk_budget,
    chunk_size,
    iwae_bound,
    log_importance_weights,
)
from pyro_vae.evaluation.metrics import SplitEvaluation, evaluate_split

__all__ = [
    "SplitEvaluation",
    "available_memory",
    "chunk_budget",
    "chunk_size",
    "evaluate_split",
    "iwae_bound",
    "log_importance_weights",
]
