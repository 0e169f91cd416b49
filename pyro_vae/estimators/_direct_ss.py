"""The semi-supervised VAE's enumerated ELBO computed from its distributions, without Pyro's tracing.

For the model and guide built by :func:`pyro_vae.ss_vae.build_ss_vae`,
``TraceEnum_ELBO`` sums exactly over every missing label: per row,

    ELBO = sum_y q(y | x) [log p(y) + log p(x | z_y, y) + w (log p(z_y) - log q(z_y | x, y)) - log q(y | x)]

with ``z_y ~ q(z | x, y)`` drawn once per label value (``w`` the KL weight), and
a known label enters at its value with weight 1. The guide's classification
term ``alpha * -log q(y | x)`` on known labels is added to the loss.
:func:`direct_ss_loss` computes exactly this from the model's and guide's own
distributions, group by group (:func:`~pyro_vae.label_groups.label_groups`),
with the same random draws as the traced path: the same value and gradient up
to float rounding (tested against ``TraceEnum_ELBO``). The consistency term
draws its translations first, as the guide does, so it is reproduced too; the
adversarial term and anything else are left to the traced path by
:func:`direct_ss_applies`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from pyro.poutine.runtime import am_i_wrapped
from torch import Tensor
from torch.nn.functional import cross_entropy, log_softmax

from pyro_vae.guides.ss_vae import SSVAEGuide
from pyro_vae.label_groups import LabelGroup, label_groups
from pyro_vae.models.ss_vae import SSVAEModel

__all__ = ["direct_ss_applies", "direct_ss_loss"]


def direct_ss_applies(model: Callable[..., Any], guide: Callable[..., Any], args: tuple, kwargs: dict) -> bool:
    """Whether ``model(*args, **kwargs)`` / ``guide`` is a semi-supervised call :func:`direct_ss_loss` reproduces.

    ``args`` is ``(x,)`` or ``(x, y)``; ``kwargs`` may hold ``y`` (if not in ``args``) and ``kl_weight``.
    """
    return (
        type(model) is SSVAEModel
        and type(guide) is SSVAEGuide
        and len(args) in (1, 2)
        and set(kwargs) <= ({"kl_weight"} if len(args) == 2 else {"y", "kl_weight"})
        and not am_i_wrapped()
        and model.prior.guide_family == "normal"
        and not (guide.training and guide.adversaries is not None and guide.auxiliary.adversary > 0)
    )


def direct_ss_loss(
    model: SSVAEModel, guide: SSVAEGuide, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0
) -> Tensor:
    """``-ELBO`` summed over the batch, plus the guide's classification term (check :func:`direct_ss_applies`)."""
    logits = guide.classify(x)
    features = guide.body(x)
    loss = _consistency_term(guide, x, logits)  # its translations are drawn before z, as in the guide
    for group in label_groups(y, x.shape[0], len(model.factors)):
        loss = loss - _group_elbo(model, guide, x, y, group, logits, features, kl_weight)
        loss = loss + _classification_term(guide, y, group, logits)
    return loss


def _group_elbo(
    model: SSVAEModel,
    guide: SSVAEGuide,
    x: Tensor,
    y: Tensor | None,
    group: LabelGroup,
    logits: list[Tensor],
    features: Tensor,
    kl_weight: float,
) -> Tensor:
    """The ELBO summed over one group's rows, each missing label summed over with weight ``q(y | x)``."""
    rows = group.index
    labels, log_q_labels, log_p_labels = [], [], 0.0
    for k, classes in enumerate(model.classes):
        known = group.labels(y, k)
        if known is None:  # enumerated at its own dimension left of the rows, as Pyro's parallel enumeration does
            shape = (classes,) + (1,) * len(log_q_labels) + (1,)
            known = torch.arange(classes, device=x.device).reshape(shape)
            log_q_labels.append(log_softmax(logits[k][rows], -1).T.reshape((*shape[:-1], len(rows))))
        labels.append(known)
        log_p_labels = log_p_labels + model.label_prior(k, x).log_prob(known)
    q = guide.posterior(features[rows], labels)
    z = q.rsample()
    inner = log_p_labels + kl_weight * (model.prior().log_prob(z) - q.log_prob(z))
    inner = inner + model.likelihood.distribution(model.decode(z, labels)).log_prob(x[rows])
    if not log_q_labels:
        return inner.sum()
    log_q = sum(log_q_labels)
    return (log_q.exp() * (inner - log_q)).sum()


def _classification_term(guide: SSVAEGuide, y: Tensor | None, group: LabelGroup, logits: list[Tensor]) -> Tensor:
    """``alpha * -log q(y_k | x)`` summed over the group's known labels (training mode only)."""
    if not guide.training or guide.auxiliary.alpha <= 0:
        return logits[0].new_zeros(())
    total = logits[0].new_zeros(())
    for k in range(len(guide.factors)):
        known = group.labels(y, k)
        if known is not None:
            total = total + guide.auxiliary.alpha * cross_entropy(logits[k][group.index], known, reduction="sum")
    return total


def _consistency_term(guide: SSVAEGuide, x: Tensor, logits: list[Tensor]) -> Tensor:
    """``consistency * sum ||q(y | x) - q(y | x')||^2`` over a translated copy ``x'`` (training mode only)."""
    if not guide.training or guide.auxiliary.consistency <= 0:
        return x.new_zeros(())
    return guide.auxiliary.consistency * guide.consistency_loss(x, logits)
