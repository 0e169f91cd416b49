"""The semi-supervised generative model (M2) as a Pyro program, with one label site per specified factor."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.nn import PyroModule
from torch import Tensor, nn

from pyro_vae.label_groups import concat_broadcast, label_groups, one_hot_float
from pyro_vae.likelihoods import Likelihood
from pyro_vae.priors import Prior

__all__ = ["SSVAEModel"]


class SSVAEModel(PyroModule):
    """Semi-supervised generative model (Kingma et al. 2014, "M2"), generalised to several label factors.

    Generative story, for each data point ``n`` and specified factor ``k``::

        y_nk ~ Categorical(1 / C_k)             (site "<factor_k>@...", observed where the label is known)
        z_n ~ p(z)                               (site "z@...", the unspecified factors: style)
        x_n ~ p(x | g(z_n, y_n1, ..., y_nK))     (site "x@...", observed)

    so ``p(x, y, z) = p(x | y, z) p(z) prod_k p(y_k)``. Rows are grouped by
    which factors are known (:func:`pyro_vae.label_groups.label_groups`); the
    site suffix names the group, e.g. ``digit@L`` (known) and ``digit@U``.

    Parameters
    ----------
    prior
        ``p(z)``.
    decoder
        Network ``g`` taking ``[z, one_hot(y_1), ..., one_hot(y_K)]``.
    likelihood
        ``p(x | g(...))``.
    factors
        Names of the label factors (site names).
    classes
        Number of classes of each factor.
    """

    def __init__(
        self, prior: Prior, decoder: nn.Module, likelihood: Likelihood, factors: list[str], classes: list[int]
    ) -> None:
        super().__init__()
        self.prior = prior
        self.decoder = decoder
        self.likelihood = likelihood
        self.factors = list(factors)
        self.classes = list(classes)

    def label_prior(self, factor: int, like: Tensor) -> dist.Categorical:
        """``p(y_k)``: uniform over the factor's classes (on ``like``'s device and dtype)."""
        return dist.Categorical(logits=like.new_zeros(self.classes[factor]))

    def decode(self, z: Tensor, labels: list[Tensor]) -> Tensor:
        """Likelihood parameters for ``z`` and label values (enumerated dimensions broadcast)."""
        codes = [one_hot_float(y, c, z) for y, c in zip(labels, self.classes, strict=True)]
        return self.decoder(concat_broadcast([z, *codes]))

    def priors(self) -> dict[str, Prior]:
        """The prior of the latent style site (labels have their own uniform prior)."""
        return {"z": self.prior}

    def forward(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> None:
        """Run the model on a batch ``x`` with labels ``y`` (``(B,)`` or ``(B, K)``, ``-1`` = missing)."""
        for group in label_groups(y, x.shape[0], len(self.factors)):
            with pyro.plate("data" + group.tag, len(group.index), dim=-1):
                labels = [
                    pyro.sample(name + group.tag, self.label_prior(k, x), obs=group.labels(y, k))
                    for k, name in enumerate(self.factors)
                ]
                with poutine.scale(scale=kl_weight):
                    z = pyro.sample("z" + group.tag, self.prior())
                params = self.decode(z, labels)
                pyro.sample("x" + group.tag, self.likelihood.distribution(params), obs=x[group.index])
