"""Figures of the semi-supervised VAE: classification accuracy and label leakage into z."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from pyro_vae.data import DataBundle, Split

if TYPE_CHECKING:
    from pyro_vae.ss_vae import SSVAE

__all__ = ["accuracy", "label_leakage", "semi_supervised_metrics"]

#: rows per forward pass when encoding or classifying a split
_CHUNK = 1000


def _factor_labels(split: Split, factor: int) -> torch.Tensor:
    return split.labels.reshape(len(split), -1)[:, factor]


def accuracy(vae: SSVAE, split: Split) -> dict[str, float]:
    """Share of examples whose most probable class under ``q(y_k | x)`` is the true label, per factor.

    Examples whose label of that factor is missing are left out.
    """
    was_training = vae.training
    vae.eval()
    predicted = torch.cat([vae.predict(x) for x in split.x.split(_CHUNK)])
    vae.train(was_training)
    out = {}
    for k, name in enumerate(vae.factors):
        truth = _factor_labels(split, k)
        known = truth >= 0
        out[name] = float((predicted[known, k] == truth[known]).float().mean()) if bool(known.any()) else float("nan")
    return out


def _style(vae: SSVAE, split: Split) -> torch.Tensor:
    """Posterior means of ``z`` given the true labels (``q(z | x, y)``)."""
    with torch.no_grad():
        return torch.cat(
            [vae.encode(x, y)[0] for x, y in zip(split.x.split(_CHUNK), split.labels.split(_CHUNK), strict=True)]
        )


def label_leakage(vae: SSVAE, fit_on: Split, test_on: Split) -> dict[str, float]:
    """Accuracy of a fresh logistic regression predicting each label from ``z`` (near chance: no leakage).

    The probe is fitted on ``fit_on`` (the validation split, never used in
    training) and scored on ``test_on``; ``z`` is the mean of ``q(z | x, y)``.
    """
    from sklearn.linear_model import LogisticRegression

    z_fit, z_test = _style(vae, fit_on).cpu().numpy(), _style(vae, test_on).cpu().numpy()
    out = {}
    for k, name in enumerate(vae.factors):
        y_fit, y_test = _factor_labels(fit_on, k).cpu().numpy(), _factor_labels(test_on, k).cpu().numpy()
        if len(set(y_fit[y_fit >= 0].tolist())) < 2 or not (y_test >= 0).any():
            out[name] = float("nan")  # held-out data without labels (or of one class): nothing to probe
            continue
        probe = LogisticRegression(max_iter=2000).fit(z_fit[y_fit >= 0], y_fit[y_fit >= 0])
        out[name] = float(probe.score(z_test[y_test >= 0], y_test[y_test >= 0]))
    return out


def semi_supervised_metrics(vae: SSVAE, data: DataBundle) -> dict[str, Any]:
    """``test_accuracy`` and ``z_label_leakage_accuracy`` per factor, with the chance level for reference."""
    chance = {}
    for k, name in enumerate(vae.factors):
        truth = _factor_labels(data.test, k)
        known = truth[truth >= 0]
        chance[name] = float(torch.bincount(known).max() / len(known)) if len(known) else float("nan")
    return {
        "test_accuracy": accuracy(vae, data.test),
        "z_label_leakage_accuracy": label_leakage(vae, data.val, data.test),
        "label_chance_accuracy": chance,
    }
