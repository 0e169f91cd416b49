"""Disentanglement of a code against known factors of variation: MIG, DCI, FactorVAE, BetaVAE and SAP scores.

Every score takes codes ``(N, D)`` (posterior means, one row per example) and
integer factors ``(N, K)`` (the value index of each known factor) and is built
on scikit-learn. Scores that fit a predictor take separate train and test rows.
The definitions follow the papers named in each function; the estimators
(histogram bins, predictors, batch sizes) follow the common choices of
Locatello et al. (2019), "Challenging common assumptions in the unsupervised
learning of disentangled representations".
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "beta_vae_score",
    "dci",
    "disentanglement_metrics",
    "factor_vae_score",
    "mutual_information_gap",
    "mutual_information_gaps",
    "sap_score",
]

#: histogram bins per code dimension for the discretized mutual information
MI_BINS = 20
#: code dimensions whose spread is below this fraction of the largest are treated as collapsed
COLLAPSED = 0.05


def _as_arrays(codes: ArrayLike, factors: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``codes`` as float ``(N, D)`` and ``factors`` as integer ``(N, K)``; a clear error on mismatched rows."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    codes = codes.reshape(len(codes), -1)
    factors = factors.reshape(len(factors), -1)
    if len(codes) != len(factors):
        raise ValueError(f"codes have {len(codes)} rows but factors {len(factors)}: give one factor row per code")
    if not np.issubdtype(factors.dtype, np.integer):
        raise ValueError(f"factors must be integer value indices, got dtype {factors.dtype}")
    return codes, factors


def _discretize(codes: np.ndarray, bins: int) -> np.ndarray:
    """Each code dimension cut into ``bins`` equal-width bins, ``(N, D)`` integers."""
    out = np.zeros(codes.shape, dtype=np.int64)
    for d in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, d], bins=bins)
        out[:, d] = np.digitize(codes[:, d], edges[1:-1])
    return out


def mutual_information_matrix(codes: ArrayLike, factors: ArrayLike, bins: int = MI_BINS) -> np.ndarray:
    """Discretized mutual information ``I(z_d; v_k)`` in nats, ``(D, K)``."""
    from sklearn.metrics import mutual_info_score

    codes, factors = _as_arrays(codes, factors)
    binned = _discretize(codes, bins)
    return np.array([[mutual_info_score(f, z) for f in factors.T] for z in binned.T])


def mutual_information_gaps(codes: ArrayLike, factors: ArrayLike, bins: int = MI_BINS) -> np.ndarray:
    """The mutual information gap of each factor (Chen et al. 2018), ``(K,)``; NaN for a constant factor.

    For factor ``v_k``: the gap between the two code dimensions most informative about
    it, divided by its entropy, ``(I(z_a; v_k) - I(z_b; v_k)) / H(v_k)``, in [0, 1]; 1
    when one dimension alone captures the factor. Needs at least two code dimensions.

    Raises
    ------
    ValueError
        When the code has fewer than two dimensions.
    """
    from sklearn.metrics import mutual_info_score

    codes, factors = _as_arrays(codes, factors)
    if codes.shape[1] < 2:
        raise ValueError("the mutual information gap needs a code of at least 2 dimensions")
    mi = mutual_information_matrix(codes, factors, bins)
    entropy = np.array([mutual_info_score(f, f) for f in factors.T])
    top = np.sort(mi, axis=0)[::-1]
    gaps = np.full(entropy.shape, np.nan)
    informative = entropy > 0
    gaps[informative] = (top[0] - top[1])[informative] / entropy[informative]
    return gaps


def mutual_information_gap(codes: ArrayLike, factors: ArrayLike, bins: int = MI_BINS) -> float:
    """Mutual information gap (Chen et al. 2018, "Isolating sources of disentanglement in VAEs").

    :func:`mutual_information_gaps` averaged over the factors (constant factors skipped).
    In [0, 1]; 1 when each factor is captured by one dimension alone. Needs at least two
    code dimensions (else ``ValueError``).
    """
    gaps = mutual_information_gaps(codes, factors, bins)
    gaps = gaps[~np.isnan(gaps)]
    return float(np.mean(gaps)) if gaps.size else 0.0


def _entropy_normalized(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy of distributions along ``axis`` in base ``p.shape[axis]`` (so in [0, 1])."""
    base = p.shape[axis]
    if base < 2:
        return np.zeros(np.delete(p.shape, axis))
    logs = np.log(np.where(p > 0, p, 1.0)) / np.log(base)
    return -(p * logs).sum(axis=axis)


def dci(
    train_codes: ArrayLike,
    train_factors: ArrayLike,
    test_codes: ArrayLike,
    test_factors: ArrayLike,
    seed: int = 0,
) -> dict[str, float]:
    """Disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    One random forest per factor (every dimension considered at each split) predicts it from the code; its feature
    importances form the matrix ``R`` ``(D, K)``. Disentanglement: one minus
    the entropy (base ``K``) of each dimension's importance over factors,
    weighted by the dimension's share of all importance. Completeness: one
    minus the entropy (base ``D``) of each factor's importance over
    dimensions, averaged over factors. Informativeness: the forests' mean test
    accuracy. Each in [0, 1], higher is better.

    Returns
    -------
    dict
        ``dci_disentanglement``, ``dci_completeness``, ``dci_informativeness``.
    """
    from sklearn.ensemble import RandomForestClassifier

    train_codes, train_factors = _as_arrays(train_codes, train_factors)
    test_codes, test_factors = _as_arrays(test_codes, test_factors)
    importance, accuracy = [], []
    for k in range(train_factors.shape[1]):
        forest = RandomForestClassifier(n_estimators=30, max_depth=8, max_features=None, random_state=seed, n_jobs=1)
        forest.fit(train_codes, train_factors[:, k])
        importance.append(forest.feature_importances_)
        accuracy.append(forest.score(test_codes, test_factors[:, k]))
    r = np.abs(np.stack(importance, axis=1))  # (D, K)
    total = r.sum()
    if total <= 0:
        return {"dci_disentanglement": 0.0, "dci_completeness": 0.0, "dci_informativeness": float(np.mean(accuracy))}
    per_dim = r.sum(1)
    p_dim = r / np.where(per_dim[:, None] > 0, per_dim[:, None], 1.0)
    disentanglement = float(((1 - _entropy_normalized(p_dim, axis=1)) * per_dim / total).sum())
    p_factor = r / np.where(r.sum(0, keepdims=True) > 0, r.sum(0, keepdims=True), 1.0)
    completeness = float(np.mean(1 - _entropy_normalized(p_factor, axis=0)))
    return {
        "dci_disentanglement": disentanglement,
        "dci_completeness": completeness,
        "dci_informativeness": float(np.mean(accuracy)),
    }


def _fixed_factor_batch(factors: np.ndarray, k: int, batch_size: int, rng: np.random.Generator) -> np.ndarray | None:
    """Rows of ``batch_size`` examples sharing one value of factor ``k`` (None if no value has two rows)."""
    values, counts = np.unique(factors[:, k], return_counts=True)
    usable = values[counts >= 2]
    if usable.size == 0:
        return None
    rows = np.flatnonzero(factors[:, k] == rng.choice(usable))
    return rng.choice(rows, size=batch_size, replace=len(rows) < batch_size)


def _varying_factors(factors: np.ndarray) -> list[int]:
    """Factors that take at least two values."""
    return [k for k in range(factors.shape[1]) if np.unique(factors[:, k]).size > 1]


def factor_vae_score(
    codes: ArrayLike,
    factors: ArrayLike,
    batch_size: int = 64,
    train_votes: int = 800,
    eval_votes: int = 400,
    seed: int = 0,
) -> float:
    """FactorVAE score (Kim & Mnih 2018, "Disentangling by factorising").

    Codes are divided by their standard deviation over all rows; collapsed
    dimensions (spread below ``COLLAPSED`` of the largest) are left out. A vote
    draws a batch of rows sharing one value of a random factor ``k`` and names
    the dimension of least variance in it; a majority-vote classifier maps
    each dimension to a factor on ``train_votes`` votes, and the score is its
    accuracy on ``eval_votes`` fresh votes. Chance is ``1 / K``; 1 is perfect.
    """
    codes, factors = _as_arrays(codes, factors)
    scale = codes.std(0)
    active = scale > COLLAPSED * scale.max() if scale.max() > 0 else np.zeros_like(scale, dtype=bool)
    candidates = _varying_factors(factors)
    if not active.any() or not candidates:
        return 0.0
    normalized = codes[:, active] / scale[active]
    rng = np.random.default_rng(seed)

    def votes(n: int) -> np.ndarray:
        out = []
        while len(out) < n:
            k = int(rng.choice(candidates))
            rows = _fixed_factor_batch(factors, k, batch_size, rng)
            if rows is not None:
                out.append((int(np.argmin(normalized[rows].var(0))), k))
        return np.array(out)

    train, test = votes(train_votes), votes(eval_votes)
    table = np.zeros((normalized.shape[1], factors.shape[1]), dtype=np.int64)
    np.add.at(table, (train[:, 0], train[:, 1]), 1)
    predicted = table.argmax(1)
    return float(np.mean(predicted[test[:, 0]] == test[:, 1]))


def beta_vae_score(
    codes: ArrayLike,
    factors: ArrayLike,
    batch_size: int = 64,
    train_points: int = 1000,
    eval_points: int = 500,
    seed: int = 0,
) -> float:
    """BetaVAE score (Higgins et al. 2017, "beta-VAE: learning basic visual concepts").

    A point draws a random factor ``k`` and ``batch_size`` pairs of rows that
    share its value; its feature is the mean absolute difference of the pairs'
    codes. A logistic regression predicts ``k`` from the feature, and the score
    is its accuracy on ``eval_points`` fresh points. Chance is ``1 / K``.
    """
    from sklearn.linear_model import LogisticRegression

    codes, factors = _as_arrays(codes, factors)
    candidates = _varying_factors(factors)
    if len(candidates) < 2:
        raise ValueError("the BetaVAE score needs at least two factors that vary")
    rng = np.random.default_rng(seed)

    def points(n: int) -> tuple[np.ndarray, np.ndarray]:
        features, targets = [], []
        while len(features) < n:
            k = int(rng.choice(candidates))
            first = _fixed_factor_batch(factors, k, batch_size, rng)
            if first is None:
                continue
            value = factors[first[0], k]
            pool = np.flatnonzero(factors[:, k] == value)
            second = rng.choice(pool, size=batch_size, replace=len(pool) < batch_size)
            features.append(np.abs(codes[first] - codes[second]).mean(0))
            targets.append(k)
        return np.array(features), np.array(targets)

    x_train, y_train = points(train_points)
    x_test, y_test = points(eval_points)
    model = LogisticRegression(max_iter=2000).fit(x_train, y_train)
    return float(model.score(x_test, y_test))


def sap_score(
    train_codes: ArrayLike, train_factors: ArrayLike, test_codes: ArrayLike, test_factors: ArrayLike
) -> float:
    """Separated attribute predictability (Kumar et al. 2018, "Variational inference of disentangled latents").

    For every code dimension and factor, a classifier on that one dimension
    predicts the factor; its test accuracy fills a ``(D, K)`` matrix. The score
    is the mean over factors of the gap between the best and the second-best
    dimension. In [0, 1]; needs at least two code dimensions. The classifier is
    a decision tree on the single dimension with one leaf per factor value (a
    set of thresholds), so ordered and unordered factors alike can be read off
    one dimension; the paper's linear classifier cannot separate more than two
    values along one axis.
    """
    from sklearn.tree import DecisionTreeClassifier

    train_codes, train_factors = _as_arrays(train_codes, train_factors)
    test_codes, test_factors = _as_arrays(test_codes, test_factors)
    if train_codes.shape[1] < 2:
        raise ValueError("the SAP score needs a code of at least 2 dimensions")
    scores = np.zeros((train_codes.shape[1], train_factors.shape[1]))
    for k in _varying_factors(train_factors):
        leaves = max(2, np.unique(train_factors[:, k]).size)
        for d in range(train_codes.shape[1]):
            tree = DecisionTreeClassifier(max_leaf_nodes=leaves, random_state=0)
            tree.fit(train_codes[:, d : d + 1], train_factors[:, k])
            scores[d, k] = tree.score(test_codes[:, d : d + 1], test_factors[:, k])
    top = np.sort(scores, axis=0)[::-1]
    return float(np.mean(top[0] - top[1]))


def disentanglement_metrics(
    train_codes: ArrayLike,
    train_factors: ArrayLike,
    test_codes: ArrayLike,
    test_factors: ArrayLike,
    seed: int = 0,
) -> dict[str, float]:
    """Every score of this module for one code, as written to ``summary.json``.

    The sampling scores (FactorVAE, BetaVAE) and MIG use the test rows; the
    predictor-based ones (DCI, SAP) fit on the train rows and score the test rows.
    """
    metrics = {
        "mig": mutual_information_gap(test_codes, test_factors),
        **dci(train_codes, train_factors, test_codes, test_factors, seed=seed),
        "factor_vae_score": factor_vae_score(test_codes, test_factors, seed=seed),
        "beta_vae_score": beta_vae_score(test_codes, test_factors, seed=seed),
        "sap": sap_score(train_codes, train_factors, test_codes, test_factors),
    }
    return {name: float(value) for name, value in metrics.items()}
