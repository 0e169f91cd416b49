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
from pyro_vae.estimators import draw_particles

__all__ = ["chunk_size", "iwae_bound", "log_importance_weights"]

#: floats of decoder output per chunk of particles (bounds evaluation memory)
_CHUNK_FLOATS = 1 << 24


def chunk_size(batch: int, floats_per_example: int, budget: int = _CHUNK_FLOATS) -> int:
    """Particles per chunk so one chunk's decoder output stays within ``budget`` floats."""
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

    Returns
    -------
    Tensor
        Shape ``(K, B)``.
    """
    chunk = chunk or num_samples
    pieces = []
    with torch.no_grad(), local_params():
        for start in range(0, num_samples, chunk):
            k = min(chunk, num_samples - start)
            pieces.append(draw_particles(model, guide, (x,), kwargs, k).log_w)
    return torch.cat(pieces)


def iwae_bound(log_w: Tensor) -> Tensor:
    """``logsumexp_k log w_k - log K`` per example, from weights of shape ``(K, B)``."""
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])
