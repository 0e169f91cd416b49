"""The semi-supervised guide (M2): a classifier per label factor and a label-conditioned Gaussian for z."""

from __future__ import annotations

from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.infer import config_enumerate
from pyro.nn import PyroModule
from pyro_vae.guides.vae import MIN_SCALE
from torch import Tensor, nn
from torch.nn.functional import cross_entropy, linear, softplus

from pyro_vae.data.loader import random_shift
from pyro_vae.distributions import DiagonalNormal
from pyro_vae.label_groups import label_groups

__all__ = ["AuxiliaryTerms", "SSVAEGuide", "reverse_gradient"]


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; the gradient multiplied by -1 backward (Ganin & Lempitsky 2015)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor) -> Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        return -grad


def reverse_gradient(x: Tensor) -> Tensor:
    """``x`` unchanged, with its gradient reversed on the way back."""
    return _ReverseGradient.apply(x)


@dataclass(frozen=True)
class AuxiliaryTerms:
    """Weights of the training-only terms the guide adds to the objective (all in nats per example).

    Attributes
    ----------
    alpha
        ``-log q(y_k | x)`` on every known label (Kingma et al.'s classification loss).
    adversary
        Cross-entropy of the adversaries predicting the labels from ``z``,
        reversed into the encoder (0: no adversary).
    consistency
        ``|| q(y | x) - q(y | x') ||^2`` between each image and a copy ``x'``
        translated by up to ``consistency_shift`` pixels (0: off; images only).
    consistency_shift
        Largest translation of the second view, in pixels.
    """

    alpha: float = 1.0
    adversary: float = 0.0
    consistency: float = 0.0
    consistency_shift: int = 2


class SSVAEGuide(PyroModule):
    """Guide of the semi-supervised VAE.

    For each data point ``n`` and specified factor ``k``::

        y_nk ~ q(y_k | x_n) = Categorical(softmax(f_k(x_n)))   (sites "<factor_k>@U...", missing labels only)
        z_n ~ q(z | x_n, y_n) = N(mu(x_n, y_n), diag sigma(x_n, y_n)^2)          (site "z@...")

    Missing labels are enumerated in parallel (``config_enumerate``), so
    :class:`pyro.infer.TraceEnum_ELBO` sums over them exactly. In training mode
    the guide also carries the auxiliary terms of the objective (see
    :class:`AuxiliaryTerms`), as factors (a guide factor ``f`` adds ``f`` to the loss):

    - ``alpha * -log q(y_k | x)`` for every known label (the classification loss);
    - with ``adversary > 0``, the cross-entropy of an adversary predicting
      each ``y_k`` from ``z`` (the known label, else the classifier's guess)
      through a gradient-reversal layer: the adversary learns to predict the
      labels from ``z`` while the encoder learns to defeat it;
    - with ``consistency > 0``, the squared distance between the classifier's
      probabilities for each image and for a randomly translated copy.

    Parameters
    ----------
    classifiers
        One network per factor mapping ``x`` to that factor's logits.
    body
        Network mapping ``x`` to features.
    head
        ``nn.Sequential(activation, Linear, ...)`` mapping ``[features, one_hot(y_1), ...,
        one_hot(y_K)]`` to ``2 z_dim`` outputs; its first layer is applied to the
        features once and to the labels by table lookup (the same numbers).
    z_dim, factors, classes
        Latent size, factor names and classes per factor.
    auxiliary
        Weights of the training-only terms.
    adversaries
        One network per factor mapping ``z`` to logits (needed when ``auxiliary.adversary > 0``).
    """

    #: head outputs per latent dimension (mean and raw scale)
    outputs_per_latent = 2

    def __init__(
        self,
        classifiers: nn.ModuleList,
        body: nn.Module,
        head: nn.Sequential,
        z_dim: int,
        factors: list[str],
        classes: list[int],
        auxiliary: AuxiliaryTerms,
        adversaries: nn.ModuleList | None = None,
    ) -> None:
        super().__init__()
        self.classifiers = classifiers
        self.body = body
        self.head = head
        self.adversaries = adversaries
        self.z_dim = z_dim
        self.factors, self.classes = list(factors), list(classes)
        self.auxiliary = auxiliary

    def classify(self, x: Tensor) -> list[Tensor]:
        """Logits of ``q(y_k | x)`` for every factor, each ``(B, C_k)``."""
        return [classifier(x) for classifier in self.classifiers]

    def posterior(self, features: Tensor, labels: list[Tensor]) -> dist.TorchDistribution:
        """``q(z | x, y)`` from body features and label values (enumerated dimensions broadcast)."""
        loc, raw = self.head[2:](self._first_layer(features, labels)).split(self.z_dim, dim=-1)
        return DiagonalNormal(loc, softplus(raw) + MIN_SCALE)

    def _first_layer(self, features: Tensor, labels: list[Tensor]) -> Tensor:
        """``Linear(act([features, one_hot(y_1), ...]))``, the features' part computed once for all labels.

        The layer is ``W_f act(features) + sum_k W_k act(one_hot(y_k)) + b``; each
        ``W_k act(one_hot(y))`` is row ``y`` of the table ``act(I) W_k^T``, so an
        enumerated label costs a row lookup instead of a pass of the features
        through the layer for every class.
        """
        act, layer = self.head[0], self.head[1]
        width = features.shape[-1]
        hidden = linear(act(features), layer.weight[:, :width], layer.bias)
        start = width
        for y, c in zip(labels, self.classes, strict=True):
            codes = act(torch.eye(c, dtype=features.dtype, device=features.device))
            table = codes @ layer.weight[:, start : start + c].T
            hidden = hidden + table[y]
            start += c
        return hidden

    @config_enumerate
    def forward(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> None:
        """Run the guide on a batch ``x`` with labels ``y`` (``-1`` = missing); same signature as the model."""
        logits = self.classify(x)
        features = self.body(x)
        # the training-only terms come first: TraceEnum_ELBO expects sites outside the
        # data plates to precede the enumerated label sites
        if self.training and self.adversaries is not None and self.auxiliary.adversary > 0:
            self._adversarial_term(x, y, logits, features)
        if self.training and self.auxiliary.consistency > 0:
            self._consistency_term(x, logits)
        for group in label_groups(y, x.shape[0], len(self.factors)):
            rows = group.index
            with pyro.plate("data" + group.tag, len(rows), dim=-1):
                labels = []
                for k, name in enumerate(self.factors):
                    known = group.labels(y, k)
                    if known is None:
                        known = pyro.sample(name + group.tag, dist.Categorical(logits=logits[k][rows]))
                    elif self.training and self.auxiliary.alpha > 0:
                        loss = cross_entropy(logits[k][rows], known, reduction="none")
                        pyro.factor(f"classify_{name}{group.tag}", self.auxiliary.alpha * loss, has_rsample=True)
                    labels.append(known)
                with poutine.scale(scale=kl_weight):
                    pyro.sample("z" + group.tag, self.posterior(features[rows], labels))

    def _adversarial_term(self, x: Tensor, y: Tensor | None, logits: list[Tensor], features: Tensor) -> None:
        """Cross-entropy of the adversaries on ``z ~ q(z | x, target)``, reversed into the encoder."""
        targets = [lg.argmax(-1).detach() for lg in logits]
        if y is not None:
            y2 = y.reshape(x.shape[0], -1)
            targets = [torch.where(y2[:, k] >= 0, y2[:, k], t) for k, t in enumerate(targets)]
        z = reverse_gradient(self.posterior(features, targets).rsample())
        loss = sum(cross_entropy(adv(z), t, reduction="none") for adv, t in zip(self.adversaries, targets, strict=True))
        pyro.factor("adversary", self.auxiliary.adversary * loss.sum(), has_rsample=True)

    def consistency_loss(self, x: Tensor, logits: list[Tensor]) -> Tensor:
        """Squared distance between class probabilities of the images and of translated copies, summed."""
        moved = self.classify(random_shift(x, self.auxiliary.consistency_shift, None))
        return sum(((a.softmax(-1) - b.softmax(-1)) ** 2).sum() for a, b in zip(logits, moved, strict=True))

    def _consistency_term(self, x: Tensor, logits: list[Tensor]) -> None:
        pyro.factor("consistency", self.auxiliary.consistency * self.consistency_loss(x, logits), has_rsample=True)
