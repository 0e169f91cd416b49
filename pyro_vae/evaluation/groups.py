"""Figures of a group model: whether the shared factor is in the content ``s`` and out of the style ``z``.

Specified vs unspecified factors: a logistic regression fitted on the
validation split predicts the factor the groups share from ``s`` (high is
good) and from ``z`` (near chance is good), scored on the test split. With
factor labels of two or more columns the whole code ``[s, z]`` is also scored
for disentanglement (:mod:`pyro_vae.evaluation.disentanglement`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pyro_vae.evaluation.disentanglement import disentanglement_metrics, mutual_information_gaps

if TYPE_CHECKING:
    from pyro_vae.data import DataBundle, Split
    from pyro_vae.group_vae import GroupVAE
    from pyro_vae.vae import VAE

__all__ = ["code_metrics", "factor_gaps", "group_metrics", "shared_factor_accuracy"]

#: examples encoded per forward pass
_CHUNK = 1000


@torch.no_grad()
def _codes(vae: VAE, split: Split) -> np.ndarray:
    """Posterior means of every example of ``split`` (``[s, z]`` for a group model), ``(N, z_dim)``."""
    was_training = vae.training
    vae.eval()
    try:
        return torch.cat([vae.encode(x)[0] for x in split.x.split(_CHUNK)]).double().cpu().numpy()
    finally:
        vae.train(was_training)


def _labels(split: Split) -> np.ndarray:
    return split.labels.reshape(len(split), -1).cpu().numpy()


def shared_factor_accuracy(fit_on: tuple[np.ndarray, np.ndarray], test_on: tuple[np.ndarray, np.ndarray]) -> float:
    """Test accuracy of a logistic regression predicting labels from codes: ``(codes, labels)`` pairs."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    (x_fit, y_fit), (x_test, y_test) = fit_on, test_on
    keep = y_fit >= 0
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(x_fit[keep], y_fit[keep])
    known = y_test >= 0
    return float(model.score(x_test[known], y_test[known]))


def group_metrics(vae: GroupVAE, data: DataBundle, factor: int = 0) -> dict[str, Any]:
    """``shared_factor_accuracy_s``/``_z`` and their chance level, plus disentanglement scores of ``[s, z]``.

    ``factor`` is the label column the groups share (``data.group_factor``).
    Accuracy near ``shared_factor_chance`` from ``z`` means the style holds no
    trace of the shared factor. Left out when the test split holds values the
    validation split lacks (group ids rather than a factor shared across splits).
    """
    if data.val.labels is None or data.test.labels is None:
        return {}
    val_codes, test_codes = _codes(vae, data.val), _codes(vae, data.test)
    val_y, test_y = _labels(data.val), _labels(data.test)
    s_dim = vae.s_dim
    target_fit, target_test = val_y[:, factor], test_y[:, factor]
    if not set(target_test[target_test >= 0].tolist()) <= set(target_fit[target_fit >= 0].tolist()):
        # group ids: the test groups are not the validation groups, so no classifier can name them
        return code_metrics(vae, data)
    counts = np.bincount(target_test[target_test >= 0])
    out: dict[str, Any] = {
        "shared_factor_accuracy_s": shared_factor_accuracy(
            (val_codes[:, :s_dim], target_fit), (test_codes[:, :s_dim], target_test)
        ),
        "shared_factor_accuracy_z": shared_factor_accuracy(
            (val_codes[:, s_dim:], target_fit), (test_codes[:, s_dim:], target_test)
        ),
        "shared_factor_chance": float(counts.max() / counts.sum()),
    }
    return {**out, **code_metrics(vae, data)}


def code_metrics(vae: VAE, data: DataBundle) -> dict[str, float]:
    """Disentanglement scores of the posterior means against factor labels of two or more columns (else none).

    Codes of the validation split fit the predictor-based scores, the test split's are scored.
    """
    if data.val.labels is None or data.test.labels is None:
        return {}
    val_y, test_y = _labels(data.val), _labels(data.test)
    if val_y.shape[1] < 2 or (val_y < 0).any() or (test_y < 0).any():
        return {}
    return disentanglement_metrics(_codes(vae, data.val), val_y, _codes(vae, data.test), test_y)


def factor_gaps(vae: VAE, data: DataBundle) -> list[float]:
    """The mutual information gap of each factor (label column) on the test codes, in column order.

    NaN for a factor constant on the test split. Raises ``ValueError`` when the test split has no labels.
    """
    if data.test.labels is None:
        raise ValueError("factor_gaps needs factor labels on the test split; use a source with factors (shapes)")
    return [float(g) for g in mutual_information_gaps(_codes(vae, data.test), _labels(data.test))]
