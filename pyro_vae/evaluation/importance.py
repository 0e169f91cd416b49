"""Importance weights ``log p(x, z) - log q(z | x)`` of any model/guide pair, and the bounds built on them.

With ``K`` draws ``z_k ~ q(z | x)`` the mean of the log-weights estimates the
ELBO and ``logsumexp_k(log w_k) - log K`` is the importance-sampled (IWAE)
estimate of ``log p(x)``; both are lower bounds in expectation, the second
tightening to ``log p(x)`` as ``K`` grows.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from pyro_vae._pyro import local_params
from pyro_vae._system import available_memory
from pyro_vae.estimators import direct_applies, draw_particles, posterior_log_weights, prior_distributions

__all__ = ["available_memory", "chunk_budget", "chunk_size", "iwae_bound", "log_importance_weights"]

#: most floats of decoder output per chunk (8 MB): on the 2-core development machine the fastest of
#: 2**19-2**22 for one-thread worker processes (larger chunks leave the CPU caches), and no slower than
#: 2**20 for one process on two threads (benchmarks/RESULTS.md)
MAX_CHUNK_FLOATS = 1 << 21
#: share of the available memory one chunk's decoder output may take (the pass holds a few such tensors)
MEMORY_SHARE = 1 / 32


def chunk_budget(memory: int | None = None) -> int:
    """Floats of decoder output per chunk: ``MEMORY_SHARE`` of ``memory`` bytes (default: available now).

    Capped at ``MAX_CHUNK_FLOATS``, so memory use never grows with the number of
    draws ``K``, and is smaller still when little memory is free.
    """
    memory = available_memory() if memory is None else memory
    return max(1, min(MAX_CHUNK_FLOATS, int(memory * MEMORY_SHARE) // 4))


def chunk_size(batch: int, floats_per_example: int, budget: int | None = None) -> int:
    """Particles per chunk so one chunk's decoder output stays within ``budget`` floats (:func:`chunk_budget`)."""
    budget = chunk_budget() if budget is None else budget
    return max(1, budget // max(1, batch * floats_per_example))


def log_importance_weights(
    model: Callable[..., object],
    guide: Callable[..., object],
    x: Tensor,
    num_samples: int,
    chunk: int | None = None,
    **kwargs: object,
) -> Tensor:
    """``log w[k, n] = log p(x_n, z_kn) - log q(z_kn | x_n)`` with ``z_kn ~ q(z | x_n)``, without gradients.

    Parameters
    ----------
    model, guide
        Pyro programs with a data plate at ``dim=-1``, called as ``f(x, **kwargs)``.
    x
        A batch of ``B`` examples.
    num_samples
        ``K``, the draws per example.
    chunk
        Draws per vectorised pass (all at once if ``None``); bounds memory.

    A plain VAE with continuous latents is scored directly from its
    distributions (:func:`~pyro_vae.estimators.posterior_log_weights`, the
    encoder run once per batch): the same draws and values as the traced path,
    less overhead. Anything else is traced.

    Returns
    -------
    Tensor
        Shape ``(K, B)``.
    """
    chunk = chunk or num_samples
    pieces = []
    with torch.no_grad(), local_params():
        direct = direct_applies(model, guide, (x,), kwargs)
        posteriors = guide.posteriors(x) if direct else None
        priors = prior_distributions(model) if direct else None
        for start in range(0, num_samples, chunk):
            k = min(chunk, num_samples - start)
            if posteriors is not None:
                pieces.append(posterior_log_weights(model, posteriors, x, k, priors=priors))
            else:
                pieces.append(draw_particles(model, guide, (x,), kwargs, k).log_w)
    return torch.cat(pieces)


def iwae_bound(log_w: Tensor) -> Tensor:
    """``logsumexp_k log w_k - log K`` per example, from weights of shape ``(K, B)``."""
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])
