"""The Ada-GVAE guide as a Pyro program: the latent dimensions a pair seems to share get one posterior."""

from __future__ import annotations

import pyro
import torch
from pyro import poutine
from pyro.nn import PyroModule
from pyro_vae.guides.group_vae import CONTENT_POOLING
from pyro_vae.guides.vae import VAEGuide
from torch import Tensor

from pyro_vae.distributions import DiagonalNormal

__all__ = ["AdaptivePairGuide", "adaptive_share", "normal_kl_per_dim"]


def normal_kl_per_dim(loc: Tensor, scale: Tensor, other_loc: Tensor, other_scale: Tensor) -> Tensor:
    """``KL(N(loc, scale^2) || N(other_loc, other_scale^2))`` per dimension (same shape as the inputs)."""
    ratio = (scale / other_scale).pow(2)
    return 0.5 * (ratio + ((loc - other_loc) / other_scale).pow(2) - 1 - ratio.log())


def adaptive_share(loc: Tensor, scale: Tensor, pooling: str = "average") -> tuple[Tensor, Tensor, Tensor]:
    """Ada-GVAE's adaptive sharing for pairs ``(B, 2, d)`` (Locatello et al. 2020).

    ``delta_j = KL(q(z_j | x_1) || q(z_j | x_2))`` per dimension; the dimensions
    with ``delta_j < (max_j delta + min_j delta) / 2`` are taken as shared and
    both members get the pooled posterior there (``pooling``: ``"average"``
    as GVAE, ``"product"`` as ML-VAE); the others keep their own.

    Returns
    -------
    tuple of Tensor
        The new locations and scales ``(B, 2, d)``, and which dimensions were shared ``(B, d)`` (bool).
    """
    delta = normal_kl_per_dim(loc[:, 0], scale[:, 0], loc[:, 1], scale[:, 1])
    threshold = 0.5 * (delta.max(-1, keepdim=True).values + delta.min(-1, keepdim=True).values)
    shared = delta < threshold
    pooled_loc, pooled_scale = CONTENT_POOLING[pooling](loc, scale)
    mask = shared.unsqueeze(-2)
    return (
        torch.where(mask, pooled_loc.unsqueeze(-2), loc),
        torch.where(mask, pooled_scale.unsqueeze(-2), scale),
        shared,
    )


class AdaptivePairGuide(PyroModule):
    """Guide of Ada-GVAE: each member's ``q(z | x)``, pooled over the dimensions the pair seems to share.

    For each pair in the ``groups`` plate and member in the ``members`` plate,
    ``z_gi ~ N(loc_gi, scale_gi^2)`` with :func:`adaptive_share` applied to the
    encoder's per-member posteriors.

    Parameters
    ----------
    member
        The plain VAE guide of one example (its encoder and Normal posterior),
        which also scores single examples in evaluation.
    pooling
        ``"average"`` (Ada-GVAE) or ``"product"`` (Ada-ML-VAE).
    """

    def __init__(self, member: VAEGuide, pooling: str = "average") -> None:
        super().__init__()
        if pooling not in CONTENT_POOLING:
            raise ValueError(f"unknown pooling {pooling!r}: use one of {', '.join(CONTENT_POOLING)}")
        self.member = member
        self.pooling = pooling

    @property
    def z_dim(self) -> int:
        return self.member.z_dim

    def moments(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of ``q(z | x)`` for single examples ``(B, *event_shape)`` (no sharing)."""
        return self.member.moments(x)

    def pair_posteriors(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Locations, scales ``(B, 2, d)`` after sharing, and the shared dimensions ``(B, d)``, for pairs ``x``."""
        if x.shape[1] != 2:
            raise ValueError(f"Ada-GVAE compares pairs: groups must have 2 members, got {x.shape[1]}")
        q = self.member.posteriors(x.flatten(0, 1))["z"].base_dist
        loc, scale = (t.view(*x.shape[:2], -1) for t in (q.loc, q.scale))
        return adaptive_share(loc, scale, self.pooling)

    def forward(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> Tensor:
        """Sample ``z`` for every member of pairs ``x`` ``(B, 2, *event_shape)``; the model's signature."""
        loc, scale, _ = self.pair_posteriors(x)
        with pyro.plate("groups", x.shape[0], dim=-2), pyro.plate("members", 2, dim=-1):
            with poutine.scale(scale=kl_weight):
                return pyro.sample("z", DiagonalNormal(loc, scale))
