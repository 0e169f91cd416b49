"""Disentanglement scores on hand-made codes whose answer is known.

A code equal to the factors (one dimension per factor, plus nothing else) is
perfectly disentangled; a code of pure noise carries no factor at all; a code
that mixes two factors in each dimension is informative but entangled.
"""

from __future__ import annotations

import numpy as np
import pytest

from pyro_vae.evaluation.disentanglement import (
    beta_vae_score,
    dci,
    disentanglement_metrics,
    factor_vae_score,
    mutual_information_gap,
    mutual_information_gaps,
    mutual_information_matrix,
    sap_score,
)

LEVELS = (4, 5, 6)  # values per factor


def _factors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, m, n) for m in LEVELS], axis=1)


def _codes(kind: str, factors: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 100)
    values = factors / (np.array(LEVELS) - 1)  # each factor scaled to [0, 1]
    if kind == "identity":
        return values + 0.01 * rng.standard_normal(values.shape)
    if kind == "random":
        return rng.standard_normal(values.shape)
    # "rotated": each dimension mixes every factor (a dense rotation), so no dimension belongs to one factor
    mix = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.5], [0.5, 1.0, -1.0]])
    return values @ mix + 0.01 * rng.standard_normal(values.shape)


@pytest.fixture(scope="module")
def splits():
    return _factors(2000, 0), _factors(1000, 1)


@pytest.fixture(scope="module")
def scores(splits):
    train_f, test_f = splits
    return {
        kind: disentanglement_metrics(_codes(kind, train_f, 0), train_f, _codes(kind, test_f, 1), test_f)
        for kind in ("identity", "random", "rotated")
    }


def test_the_mutual_information_of_a_copied_factor_is_its_entropy():
    factors = _factors(4000, 3)
    mi = mutual_information_matrix(factors.astype(float), factors)
    # I(v; v) = H(v) = log(levels) for a uniform factor, up to the sample's deviation from uniform
    np.testing.assert_allclose(np.diag(mi), np.log(LEVELS), atol=0.01)
    assert (mi[~np.eye(3, dtype=bool)] < 0.02).all()


def test_the_gap_of_each_factor_is_its_own():
    factors = _factors(4000, 3)
    codes = factors.astype(float)
    codes[:, 2] = 0.0  # the third factor is in no dimension: a gap of 0 between two uninformative dimensions
    factors = np.concatenate([factors, np.zeros((len(factors), 1), dtype=int)], axis=1)  # a constant factor
    gaps = mutual_information_gaps(codes, factors)
    np.testing.assert_allclose(gaps[:2], 1.0, atol=0.01)
    assert abs(gaps[2]) < 0.01 and np.isnan(gaps[3])
    assert mutual_information_gap(codes, factors) == pytest.approx(np.mean(gaps[:3]))


def test_a_code_equal_to_the_factors_scores_near_one(scores):
    scores = scores["identity"]
    assert scores["mig"] > 0.95
    assert scores["dci_disentanglement"] > 0.9
    assert scores["dci_completeness"] > 0.9
    assert scores["dci_informativeness"] > 0.99
    assert scores["factor_vae_score"] > 0.99
    assert scores["beta_vae_score"] > 0.99
    assert scores["sap"] > 0.5


def test_a_random_code_scores_near_zero_or_chance(scores):
    scores = scores["random"]
    assert scores["mig"] < 0.02
    assert scores["dci_disentanglement"] < 0.1
    assert scores["dci_completeness"] < 0.1
    # informativeness of a noise code is the majority-class rate; the voting scores are at chance (1 / 3)
    assert scores["dci_informativeness"] < 0.3
    assert scores["factor_vae_score"] < 0.5
    assert scores["beta_vae_score"] < 0.5
    assert scores["sap"] < 0.05


def test_an_entangled_code_is_informative_but_not_disentangled(scores):
    identity, rotated = scores["identity"], scores["rotated"]
    assert rotated["dci_informativeness"] > 0.9
    assert rotated["mig"] < identity["mig"] - 0.5
    assert rotated["dci_disentanglement"] < identity["dci_disentanglement"] - 0.3
    assert rotated["sap"] < identity["sap"]


def test_collapsed_dimensions_are_ignored_by_the_factor_vae_vote(splits):
    _, test_f = splits
    codes = np.concatenate([_codes("identity", test_f, 1), np.zeros((len(test_f), 2))], axis=1)
    assert factor_vae_score(codes, test_f) > 0.99


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mutual_information_gap(np.zeros((5, 1)), np.zeros((5, 1), dtype=int)), "at least 2 dimensions"),
        (
            lambda: sap_score(np.zeros((5, 1)), np.zeros((5, 1), int), np.zeros((5, 1)), np.zeros((5, 1), int)),
            "at least 2 dimensions",
        ),
        (lambda: mutual_information_gap(np.zeros((5, 2)), np.zeros((4, 1), dtype=int)), "5 rows but factors 4"),
        (lambda: dci(np.zeros((5, 2)), np.zeros((5, 1)), np.zeros((5, 2)), np.zeros((5, 1))), "integer value"),
        (lambda: beta_vae_score(np.zeros((5, 2)), np.zeros((5, 2), dtype=int)), "two factors that vary"),
    ],
    ids=["mig-one-dim", "sap-one-dim", "rows-differ", "float-factors", "betavae-constant-factors"],
)
def test_bad_input_is_one_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
