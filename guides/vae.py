"""The amortized guide of a VAE as a Pyro program."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.nn import PyroModule
from pyro_vae.guides.posteriors import MIN_SCALE, PosteriorFamily, raw_for_scale
from torch import Tensor, nn

from pyro_vae.label_groups import concat_broadcast

__all__ = ["MIN_SCALE", "VAEGuide", "raw_for_scale"]


class VAEGuide(PyroModule):
    """Amortized guide ``q(z | x) = prod_b q_b(z_b | x)``, one factor per latent site.

    For each data point ``n`` in the ``data`` plate the encoder ``f`` makes one
    feature vector, cut into consecutive slices, one per site ``b``::

        z_b,n ~ q_b(f(x_n)[slice b])     (site b: "z", and "bits" in a mixed model)

    with ``q_b`` a diagonal Normal for continuous codes or independent
    Bernoulli bits for binary ones (see :mod:`pyro_vae.guides.posteriors`).

    Parameters
    ----------
    encoder
        Network ``f`` mapping ``x`` of shape ``(B, *event_shape)`` to the sum
        of the blocks' ``outputs`` features.
    blocks
        Posterior family per site name, in the order the decoder reads them.
    """

    def __init__(self, encoder: nn.Module, blocks: dict[str, PosteriorFamily]) -> None:
        super().__init__()
        self.encoder = encoder
        self.blocks = nn.ModuleDict(blocks)

    @property
    def z_dim(self) -> int:
        """Latent dimensions of all sites together."""
        return sum(block.dim for block in self.blocks.values())

    def _features(self, x: Tensor) -> dict[str, Tensor]:
        pieces = self.encoder(x).split([block.outputs for block in self.blocks.values()], dim=-1)
        return dict(zip(self.blocks, pieces, strict=True))

    def posteriors(self, x: Tensor) -> dict[str, dist.TorchDistribution]:
        """``q_b(z_b | x)`` per site, batch shape ``(B,)``, event shape ``(dim_b,)``."""
        return {name: self.blocks[name].distribution(f) for name, f in self._features(x).items()}

    def rsample_and_log_prob(self, x: Tensor, sample_shape: tuple[int, ...] = ()) -> dict[str, tuple[Tensor, Tensor]]:
        """A reparameterised draw ``z_b ~ q_b(z_b | x)`` and ``log q_b(z_b | x)`` per site, for training.

        The draws of :meth:`posteriors`' ``rsample(sample_shape)``, site by site, each with its log-density
        in nats (:meth:`~guides.posteriors.PosteriorFamily.rsample_and_log_prob`): ``z_b`` of shape
        ``(*sample_shape, B, dim_b)`` and ``log q`` of shape ``(*sample_shape, B)``.
        """
        features = self._features(x)
        return {name: self.blocks[name].rsample_and_log_prob(f, sample_shape) for name, f in features.items()}

    def moments(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of ``q(z | x)``, all sites side by side, each ``(B, z_dim)``."""
        pairs = [self.blocks[name].moments(f) for name, f in self._features(x).items()]
        return torch.cat([m for m, _ in pairs], -1), torch.cat([s for _, s in pairs], -1)

    def forward(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> Tensor:
        """Sample every latent site for a batch ``x``; same signature as the model; returns the joined code."""
        posteriors = self.posteriors(x)
        codes = []
        with pyro.plate("data", x.shape[0], dim=-1), poutine.scale(scale=kl_weight):
            for name, q in posteriors.items():
                codes.append(pyro.sample(name, q, infer=self.blocks[name].infer(x)))
        return concat_broadcast(codes)
