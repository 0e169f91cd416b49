"""Evaluation: importance weights, ELBO and importance-sampled log-likelihood."""

from pyro_vae.evaluation.importance import (
    available_memory,
    chunk_budget,
    chunk_size,
    iwae_bound,
    log_importance_weights,
)
from pyro_vae.evaluation.metrics import ExampleScores, SplitEvaluation, evaluate_split, score_examples

__all__ = [
    "ExampleScores",
    "SplitEvaluation",
    "available_memory",
    "chunk_budget",
    "chunk_size",
    "evaluate_split",
    "iwae_bound",
    "log_importance_weights",
    "score_examples",
]
