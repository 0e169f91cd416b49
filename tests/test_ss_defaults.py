"""Defaults of the semi-supervised kind that beat the obvious baseline, and no option combination at chance.

Fault kinds (issue 13, section 8) and their members, each a test below:

| kind | members (cases) |
|---|---|
| the best epoch is picked by a figure blind to the classifier | validation ELBO picked epoch 2 of the recipe |
| | run (chance); early stopping on it cut the run at epoch 12 while accuracy rose; ``best_val_elbo`` is |
| | the selected epoch's ELBO whatever selects; no validation labels: the ELBO; a plain VAE: the ELBO |
| an auxiliary term outweighs the labels | ``alpha = 1`` against ``consistency = 100``: a constant |
| | ``q(y|x)`` minimises the consistency term and the classification term is too weak to stop it |
| defaults sized for MNIST on small images | ``consistency_shift = 2`` on 8x8 (now a share of the side: 1 |
| | on 8x8, 2 on 28x28); ``labelled_per_batch = 0`` (~4 labels per batch at 50 labels); a Bernoulli |
| | likelihood binarizing the images the classifier is tested on; ``z_dim = 2`` |
| a kind default overrides what the user set | ``model.likelihood`` or ``train.labelled_per_batch`` set |
| | explicitly, a small ``batch_size``, Python keywords; other kinds get none of them |
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import pyro_vae
from pyro_vae.config import ModelConfig, resolve_config
from pyro_vae.data import DataShape
from pyro_vae.ss_vae import build_ss_vae, consistency_shift
from pyro_vae.vae import VAE

#: the MNIST recipe's terms the issue added to the defaults
RECIPE = ["model.consistency=100", "data.shift=1", "train.labelled_per_batch=10"]


def _logistic_regression(result) -> float:
    """Test accuracy of logistic regression on the labelled training images alone (same split and labels)."""
    from sklearn.linear_model import LogisticRegression

    train, test = result.data.train, result.data.test
    known = train.labels >= 0
    model = LogisticRegression(max_iter=5000).fit(train.x[known].flatten(1).numpy(), train.labels[known].numpy())
    return float(model.score(test.x.flatten(1).numpy(), test.labels.numpy()))


# -- the selection rule -----------------------------------------------------------------------------------


def _ss(classes=(10,), factors=None) -> pyro_vae.ss_vae.SSVAE:
    config = ModelConfig(kind="ss_vae", z_dim=2, factors=factors, network={"name": "mlp", "hidden": [8]})
    return build_ss_vae(config, DataShape((1, 8, 8), tuple(classes)))


@pytest.mark.parametrize(
    ("factors", "metrics", "expected"),
    [
        pytest.param(["a"], {"val_accuracy_a": 0.75}, ("validation accuracy", 0.75), id="one-factor"),
        pytest.param(["a", "b"], {"val_accuracy_a": 0.5, "val_accuracy_b": 0.9}, ("validation accuracy", 0.7), id="2"),
        pytest.param(
            ["a", "b"], {"val_accuracy_a": math.nan, "val_accuracy_b": 0.9}, ("validation accuracy", 0.9), id="1-of-2"
        ),
        pytest.param(["a"], {"val_accuracy_a": math.nan}, ("validation ELBO", -30.0), id="no-validation-labels"),
    ],
)
def test_semi_supervised_epochs_are_selected_by_validation_accuracy_where_labels_allow(factors, metrics, expected):
    vae = _ss(classes=(10,) * len(factors), factors=factors)
    name, value = vae.selection(-30.0, metrics)
    assert (name, value) == (expected[0], pytest.approx(expected[1]))


def test_a_plain_vae_is_still_selected_by_its_validation_elbo():
    assert VAE.selection(None, -12.5, {"anything": 1.0}) == ("validation ELBO", -12.5)


# -- kind defaults ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "likelihood", "labelled"),
    [
        pytest.param(["model.kind=ss_vae"], "continuous_bernoulli", 16, id="ss-defaults"),
        pytest.param(["model.kind=ss_vae", "train.batch_size=40"], "continuous_bernoulli", 5, id="share-of-batch"),
        pytest.param(["model.kind=ss_vae", "train.batch_size=2"], "continuous_bernoulli", 1, id="tiny-batch"),
        pytest.param(["model.kind=ss_vae", "model.likelihood=bernoulli"], "bernoulli", 16, id="likelihood-set"),
        pytest.param(["model.kind=ss_vae", "train.labelled_per_batch=0"], "continuous_bernoulli", 0, id="lpb-set"),
        pytest.param([], "bernoulli", 0, id="plain-vae-untouched"),
    ],
)
def test_kind_defaults_fill_only_what_the_configuration_leaves_out(overrides, likelihood, labelled):
    config = resolve_config(None, overrides)
    assert (config.model.likelihood, config.train.labelled_per_batch) == (likelihood, labelled)


def test_kind_defaults_apply_from_python_keywords_too():
    config = resolve_config({"model": {"kind": "ss_vae"}}, batch_size=64)
    assert (config.model.likelihood, config.train.labelled_per_batch) == ("continuous_bernoulli", 8)


@pytest.mark.parametrize(
    ("event_shape", "given", "expected"),
    [
        pytest.param((1, 8, 8), None, 1, id="8x8"),
        pytest.param((1, 28, 28), None, 2, id="28x28"),
        pytest.param((3, 64, 48), None, 3, id="64x48"),
        pytest.param((1, 8, 8), 3, 3, id="given"),
        pytest.param((64,), None, 1, id="flat"),
    ],
)
def test_the_consistency_shift_follows_the_image_size(event_shape, given, expected):
    config = ModelConfig(kind="ss_vae", consistency_shift=given)
    assert consistency_shift(config, DataShape(event_shape, (10,))) == expected


# -- fits on the embedded digits --------------------------------------------------------------------------

#: a small run: 50 labels, few epochs, few evaluation samples (everything else at the kind's defaults)
SMALL = ["model.kind=ss_vae", "data.labels=50", "train.epochs=6", "eval.samples=5"]


@pytest.mark.parametrize(
    ("extra", "floor"),
    [
        # seeded, measured 0.78 for both (chance 0.13; the recipe terms gave 0.13 before the fix)
        pytest.param([], 0.6, id="defaults"),
        pytest.param(RECIPE, 0.5, id="recipe-terms"),
    ],
)
def test_a_small_semi_supervised_fit_on_digits_is_far_above_chance(extra, floor):
    result = pyro_vae.fit(overrides=SMALL + extra, pictures=False)
    accuracy = result.summary["test_accuracy"]["label"]
    assert accuracy > floor, accuracy
    # the restored epoch has the highest validation accuracy (ties: the best validation ELBO), and reports its ELBO
    history, best = result.history, result.summary["best_epoch"]
    scores = [(row["val_accuracy_label"], row["val_elbo"]) for row in history]
    assert result.summary["selected_by"] == "validation accuracy"
    assert best == 1 + scores.index(max(scores)), scores
    assert result.summary["best_val_elbo"] == history[best - 1]["val_elbo"]


@pytest.mark.slow
@pytest.mark.parametrize("labels", [20, 50, 100])
def test_semi_supervised_defaults_beat_logistic_regression_on_the_labelled_subset(labels):
    """The issue's target: 5 points above logistic regression fitted on the labelled images alone."""
    result = pyro_vae.fit(overrides=["model.kind=ss_vae", f"data.labels={labels}", "eval.samples=10"], pictures=False)
    baseline = _logistic_regression(result)
    assert result.summary["test_accuracy"]["label"] > baseline + 0.05, baseline


@pytest.mark.slow
def test_the_recipe_terms_on_digits_do_not_collapse_to_chance():
    result = pyro_vae.fit(overrides=["model.kind=ss_vae", "data.labels=50", "eval.samples=10", *RECIPE])
    assert result.summary["test_accuracy"]["label"] > _logistic_regression(result), np.nan


@pytest.mark.parametrize(
    ("scores", "best_epoch"),
    [
        pytest.param([(0.8, -30.0), (0.9, -31.0), (0.9, -29.0)], 3, id="tie-better-elbo-wins"),
        pytest.param([(0.8, -30.0), (0.9, -29.0), (0.9, -31.0)], 2, id="tie-worse-elbo-loses"),
        pytest.param([(0.9, -40.0), (0.8, -20.0)], 1, id="accuracy-first"),
    ],
)
def test_equal_validation_accuracies_are_broken_by_the_validation_elbo(scores, best_epoch):
    from pyro_vae.training.schedule import EarlyStopping

    stopper = EarlyStopping(patience=0)
    for epoch, (accuracy, elbo) in enumerate(scores, 1):
        stopper.update(accuracy, epoch, tie=elbo)
    assert stopper.best_epoch == best_epoch
    restored = EarlyStopping(patience=0)
    restored.load_state_dict(stopper.state_dict())
    assert restored == stopper
