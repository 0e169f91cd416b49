"""The group VAE's generative model as a Pyro program: content shared by a group, style per member."""

from __future__ import annotations

import pyro
import torch
from pyro import poutine
from pyro.nn import PyroModule
from torch import Tensor, nn

from pyro_vae.label_groups import concat_broadcast
from pyro_vae.likelihoods import Likelihood
from pyro_vae.networks.critic import SwapCritic
from pyro_vae.priors import Prior

__all__ = ["GroupVAEModel", "MemberModel"]


class GroupVAEModel(PyroModule):
    """Generative model of a group VAE (ML-VAE, Bouchacourt et al. 2018; GVAE, Hosoya 2019).

    Generative story, for each group ``g`` in the ``groups`` plate and each
    member ``i`` of it in the nested ``members`` plate::

        s_g  ~ p(s)                          (site "s": the content the members share)
        z_gi ~ p(z)                          (site "z": each member's own style)
        x_gi ~ p(x | h([s_g, z_gi]))         (site "x", observed; h is the decoder)

    so ``p(x_g, s_g, z_g) = p(s_g) prod_i p(z_gi) p(x_gi | s_g, z_gi)``.

    With a swap critic ``D`` and weight ``w > 0``, training adds the adversarial
    term of Mathieu et al. (2016) as a factor per member (site "swap_adversary"):
    ``-w * -log D(E[x | s_g, z_(g-1)i], c_gi)``, the image decoded from the content
    of group ``g`` and the style of a member of another group, judged by the critic
    (frozen here; it learns in its own steps, :meth:`critic_loss`) against the
    condition ``c_gi`` of group ``g``. Evaluation never includes it.

    Parameters
    ----------
    content_prior, style_prior
        ``p(s)`` and ``p(z)`` (see :data:`pyro_vae.priors.PRIORS`).
    decoder
        Network ``h`` mapping ``(..., s_dim + z_dim)`` to likelihood parameters
        ``(..., params_per_dim, *event_shape)``.
    likelihood
        ``p(x | h(s, z))`` (see :data:`pyro_vae.likelihoods.LIKELIHOODS`).
    critic, swap_weight
        The swap critic and the weight ``w`` of its term (nats per member); ``None``: no term.
    """

    def __init__(
        self,
        content_prior: Prior,
        style_prior: Prior,
        decoder: nn.Module,
        likelihood: Likelihood,
        critic: SwapCritic | None = None,
        swap_weight: float = 0.0,
    ) -> None:
        super().__init__()
        self.content_prior = content_prior
        self.style_prior = style_prior
        self.decoder = decoder
        self.likelihood = likelihood
        self.critic = critic
        self.swap_weight = swap_weight

    def priors(self) -> dict[str, Prior]:
        """The prior of every latent site, in the order the decoder reads them."""
        return {"s": self.content_prior, "z": self.style_prior}

    def decode(self, s: Tensor, z: Tensor) -> Tensor:
        """Likelihood parameters of ``x`` for content ``s`` and style ``z`` (broadcast against each other)."""
        return self.decoder(concat_broadcast([s, z]))

    def forward(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> tuple[Tensor, Tensor]:
        """Run the model on groups ``x`` of shape ``(B, G, *event_shape)``: ``B`` groups of ``G`` members.

        Parameters
        ----------
        x
            Observed groups.
        y
            The label each group shares ``(B,)``, read by a class-conditional swap critic
            only (otherwise unused: every model and guide share one signature).
        kl_weight
            Scale of the latent sites' log-density (KL annealing); the guide
            must receive the same value.

        Returns
        -------
        tuple of Tensor
            Content ``s`` ``(..., B, 1, s_dim)`` and style ``z`` ``(..., B, G, z_dim)``.
        """
        with pyro.plate("groups", x.shape[0], dim=-2):
            with poutine.scale(scale=kl_weight):
                s = pyro.sample("s", self.content_prior())
            with pyro.plate("members", x.shape[1], dim=-1):
                with poutine.scale(scale=kl_weight):
                    z = pyro.sample("z", self.style_prior())
                pyro.sample("x", self.likelihood.distribution(self.decode(s, z)), obs=x)
                if self.training and self.critic is not None and self.swap_weight > 0:
                    fooled = self.critic.generator_loss(self.swapped(s, z), self.critic.conditions(x, y))
                    pyro.factor("swap_adversary", -self.swap_weight * fooled)
        return s, z

    def swapped(self, s: Tensor, z: Tensor) -> Tensor:
        """``E[x | s_g, z_(g-1)i]``: each member's image with the style of the same member of the previous group.

        ``s`` ``(..., B, 1, s_dim)`` and ``z`` ``(..., B, G, z_dim)`` give ``(..., B, G, *event_shape)``.
        """
        return self.likelihood.mean(self.decode(s, z.roll(1, dims=-3)))

    def critic_loss(self, x: Tensor, y: Tensor | None, s: Tensor, z: Tensor) -> Tensor:
        """The critic's own loss on groups ``x``: reconstructions are real, swapped images fake (summed, nats).

        The reconstructions ``E[x | s_g, z_gi]`` stand for the real images, so that the
        critic judges whose content an image shows, not how the decoder draws (its
        mean images are grey where the data are binary). ``s`` and ``z`` as in :meth:`swapped`.
        """
        if self.critic is None:
            raise ValueError("this group model has no swap critic")
        with torch.no_grad():
            reals, fakes = self.likelihood.mean(self.decode(s, z)), self.swapped(s, z)
        return self.critic.loss(reals, fakes, self.critic.conditions(x, y))


class MemberModel:
    """The group model's marginal for one member on its own: a group of one, as a plain per-example program.

    For each example ``n`` in the ``data`` plate::

        s_n ~ p(s),   z_n ~ p(z),   x_n ~ p(x | h([s_n, z_n]))

    which is :class:`GroupVAEModel` with ``G = 1``, so ``p(x_n)`` is the model's
    density of a single observation. Evaluation scores examples with it (ELBO,
    importance-sampled log-likelihood, PSIS), in nats per example like the
    other kinds. A plain callable (not a module): it runs ``group``'s own modules.
    """

    def __init__(self, group: GroupVAEModel) -> None:
        self.group = group

    def priors(self) -> dict[str, Prior]:
        return self.group.priors()

    def __call__(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> tuple[Tensor, Tensor]:
        """Run on examples ``x`` ``(B, *event_shape)``; returns ``s`` and ``z``, each ``(..., B, dim)``."""
        with pyro.plate("data", x.shape[0], dim=-1):
            with poutine.scale(scale=kl_weight):
                s = pyro.sample("s", self.group.content_prior())
                z = pyro.sample("z", self.group.style_prior())
            pyro.sample("x", self.group.likelihood.distribution(self.group.decode(s, z)), obs=x)
        return s, z
