"""Evaluation: importance weights, ELBO and importance-sampled log-likelihood."""

from pyro_vae.evaluation.importance import chunk_size, iwae_bound, log_importance_weights
from pyro_vae.evaluation.metrics import SplitEvaluation, evaluate_split

__all__ = [
    "SplitEvaluation",
    "chunk_size",
    "evaluate_split",
    "iwae_bound",
    "log_importance_weights",
]
