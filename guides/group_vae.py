"""The group VAE's amortized guide as a Pyro program, and the ways it pools a group's evidence about the content."""

from __future__ import annotations

from collections.abc import Callable

import pyro
import torch
from pyro import poutine
from pyro.nn import PyroModule
from pyro_vae.guides.posteriors import MIN_SCALE
from pyro_vae.guides.ss_vae import reverse_gradient
from torch import Tensor, nn
from torch.nn.functional import log_softmax, softplus

from pyro_vae.distributions import DiagonalNormal

__all__ = ["CONTENT_POOLING", "GroupVAEGuide", "MemberGuide", "average_pool", "product_of_gaussians"]


def product_of_gaussians(loc: Tensor, scale: Tensor) -> tuple[Tensor, Tensor]:
    """Pool per-member Gaussians ``(B, G, d)`` into one ``(B, d)`` by multiplying them (ML-VAE).

    ``q(s | x_g1..x_gG) prop. prod_i N(s; mu_i, sigma_i^2)``: precisions add and the
    mean is the precision-weighted mean (Bouchacourt et al. 2018).
    """
    precision = scale.pow(-2)
    total = precision.sum(-2)
    return (loc * precision).sum(-2) / total, total.rsqrt()


def average_pool(loc: Tensor, scale: Tensor) -> tuple[Tensor, Tensor]:
    """Pool per-member Gaussians ``(B, G, d)`` into one ``(B, d)`` by averaging their parameters (GVAE).

    The mean of the means, and the root of the mean variance (Hosoya 2019).
    """
    return loc.mean(-2), scale.pow(2).mean(-2).sqrt()


#: name -> how the members' content posteriors become the group's (``model.pooling``)
CONTENT_POOLING: dict[str, Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]] = {
    "product": product_of_gaussians,
    "average": average_pool,
}


class GroupVAEGuide(PyroModule):
    """Amortized guide ``q(s_g | x_g1..x_gG) prod_i q(z_gi | x_gi)`` of the group VAE.

    The encoder ``f`` reads each member alone and gives the location and
    scale of its style ``z_gi`` and of its own evidence about the content;
    ``pool`` merges the members' content factors into the group's posterior::

        s_g  ~ N(pool(mu_s(x_g1), ..., mu_s(x_gG)))     (site "s", in the groups plate)
        z_gi ~ N(mu_z(x_gi), diag sigma_z(x_gi)^2)       (site "z", in the nested members plate)

    Parameters
    ----------
    encoder
        Network mapping ``(N, *event_shape)`` to ``2 * (s_dim + z_dim)`` features.
    s_dim, z_dim
        Content and style dimensions.
    pooling
        A key of :data:`CONTENT_POOLING`: ``"product"`` (ML-VAE) or ``"average"`` (GVAE).
    adversary, adversary_weight
        A network mapping ``z`` to logits of the label the groups share, and the weight
        ``w`` of its cross-entropy (nats per member). In training, with the groups'
        labels, the guide adds ``w * -log A(y_g | z_gi)`` as a factor per member (site
        "adversary", which adds its value to the loss) through a gradient-reversal layer
        (Ganin & Lempitsky 2015): the adversary learns to read the shared label from the
        style while the encoder learns to leave it out (as in the semi-supervised kind).
    """

    def __init__(
        self,
        encoder: nn.Module,
        s_dim: int,
        z_dim: int,
        pooling: str = "product",
        adversary: nn.Module | None = None,
        adversary_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if pooling not in CONTENT_POOLING:
            raise ValueError(f"unknown pooling {pooling!r}: use one of {', '.join(CONTENT_POOLING)}")
        self.encoder = encoder
        self.s_dim, self.z_dim, self.pooling = s_dim, z_dim, pooling
        self.adversary, self.adversary_weight = adversary, adversary_weight

    def members(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Per-member content and style location and scale, ``(B, G, s_dim)`` and ``(B, G, z_dim)`` each."""
        b, g = x.shape[:2]
        features = self.encoder(x.flatten(0, 1)).view(b, g, -1)
        s_loc, s_raw, z_loc, z_raw = features.split([self.s_dim, self.s_dim, self.z_dim, self.z_dim], dim=-1)
        return s_loc, softplus(s_raw) + MIN_SCALE, z_loc, softplus(z_raw) + MIN_SCALE

    def moments(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of ``q(s, z | x)`` for single examples ``x`` ``(B, *event_shape)``.

        Each example is a group of one (its own evidence about the content);
        returns ``(B, s_dim + z_dim)`` each, content first.
        """
        s_loc, s_scale, z_loc, z_scale = (t.squeeze(1) for t in self.members(x.unsqueeze(1)))
        return torch.cat([s_loc, z_loc], -1), torch.cat([s_scale, z_scale], -1)

    def posteriors(self, x: Tensor) -> tuple[DiagonalNormal, DiagonalNormal]:
        """``q(s | x_g)`` with batch shape ``(B, 1)`` and ``q(z | x)`` with batch shape ``(B, G)``; events 1-D."""
        s_loc, s_scale, z_loc, z_scale = self.members(x)
        loc, scale = CONTENT_POOLING[self.pooling](s_loc, s_scale)
        content = DiagonalNormal(loc.unsqueeze(-2), scale.unsqueeze(-2))
        return content, DiagonalNormal(z_loc, z_scale)

    def forward(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> tuple[Tensor, Tensor]:
        """Sample ``s`` per group, ``z`` per member of groups ``x`` ``(B, G, *event_shape)``; the model's signature."""
        content, style = self.posteriors(x)
        with pyro.plate("groups", x.shape[0], dim=-2):
            with poutine.scale(scale=kl_weight):
                s = pyro.sample("s", content)
            with pyro.plate("members", x.shape[1], dim=-1):
                with poutine.scale(scale=kl_weight):
                    z = pyro.sample("z", style)
                if self.training and self.adversary is not None and self.adversary_weight > 0 and y is not None:
                    pyro.factor("adversary", self.adversary_weight * self.adversary_loss(z, y), has_rsample=True)
        return s, z

    def adversary_loss(self, z: Tensor, y: Tensor) -> Tensor:
        """``-log A(y_g | z_gi)`` per member, ``(..., B, G)``, with the gradient into ``z`` reversed.

        ``z`` ``(..., B, G, z_dim)``; ``y`` ``(B,)``, the label each group shares.
        """
        logits = log_softmax(self.adversary(reverse_gradient(z)), dim=-1)
        target = y.long()[:, None, None].expand(*logits.shape[:-1], 1)
        return -logits.gather(-1, target).squeeze(-1)


class MemberGuide:
    """The guide of :class:`~pyro_vae.models.group_vae.MemberModel`: each example a group of one.

    For each example ``n`` in the ``data`` plate, ``s_n ~ q(s | x_n)`` and
    ``z_n ~ q(z | x_n)`` from the group guide's per-member factors (pooling a
    single member leaves it as it is). A plain callable running ``group``'s own modules.
    """

    def __init__(self, group: GroupVAEGuide) -> None:
        self.group = group

    def __call__(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> tuple[Tensor, Tensor]:
        """Sample ``s`` and ``z`` for examples ``x`` ``(B, *event_shape)``; the member model's signature."""
        s_loc, s_scale, z_loc, z_scale = (t.squeeze(1) for t in self.group.members(x.unsqueeze(1)))
        with pyro.plate("data", x.shape[0], dim=-1), poutine.scale(scale=kl_weight):
            s = pyro.sample("s", DiagonalNormal(s_loc, s_scale))
            z = pyro.sample("z", DiagonalNormal(z_loc, z_scale))
        return s, z
