"""Closed-form checks on a linear-Gaussian VAE, whose log p(x) and posterior are exact."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from linear_gaussian import kl_to_posterior, linear_vae, make_linear_gaussian, set_guide

import pyro_vae
from pyro_vae._pyro import local_params
from pyro_vae.data import Split
from pyro_vae.estimators import ESTIMATORS
from pyro_vae.evaluation import evaluate_split, iwae_bound, log_importance_weights


@pytest.fixture
def lg():
    return make_linear_gaussian(d=6, k=2, scale=0.5, seed=0)


@pytest.fixture
def x(lg):
    return lg.sample(200, torch.Generator().manual_seed(1))


def test_exact_posterior_makes_every_importance_weight_equal_log_likelihood(lg, x, device):
    vae = linear_vae(lg)
    set_guide(vae, lg)
    log_w = log_importance_weights(vae.to(device).model, vae.guide, x.to(device), num_samples=50).cpu()
    assert log_w.shape == (50, 200)
    exact = lg.log_likelihood(x)
    # atol covers the float32 rounding of the stored likelihood scale (built before .double())
    torch.testing.assert_close(log_w, exact.expand(50, -1), rtol=0, atol=1e-6)


@pytest.mark.parametrize("estimator", ["trace", "meanfield"])
def test_exact_posterior_makes_elbo_equal_log_likelihood(lg, x, estimator):
    vae = linear_vae(lg)
    set_guide(vae, lg)
    spec = {"name": estimator, "num_particles": 400}
    with local_params():
        loss = ESTIMATORS.build(spec, max_plate_nesting=1)(vae.model, vae.guide)(x)
    exact = lg.log_likelihood(x).sum()
    # trace: every particle is exact; meanfield: the Monte Carlo part (E_q log p(x|z)) has
    # variance, about 0.3 nats per example per particle here, so allow a few standard errors.
    tolerance = 1e-6 if estimator == "trace" else 4 * 0.3 * math.sqrt(200 / 400)
    assert abs(-loss.item() - exact.item()) < tolerance


def test_elbo_gap_equals_kl_to_the_exact_posterior(lg, x, device):
    vae = linear_vae(lg)
    set_guide(vae, lg, loc_shift=0.4, scale_factor=1.5)
    expected = lg.log_likelihood(x) - kl_to_posterior(vae, lg, x)
    log_w = log_importance_weights(vae.to(device).model, vae.guide, x.to(device), num_samples=4000).cpu()
    vae.cpu()
    elbo = log_w.mean(0)
    stderr = log_w.std(0) / math.sqrt(log_w.shape[0])
    assert (kl_to_posterior(vae, lg, x) > 0.1).all()
    assert ((elbo - expected).abs() < 5 * stderr + 1e-9).all()
    assert (elbo < lg.log_likelihood(x)).all()


def test_importance_sampled_estimate_approaches_log_likelihood_as_k_grows(lg, x):
    vae = linear_vae(lg)
    set_guide(vae, lg, loc_shift=0.4, scale_factor=1.5)
    exact = lg.log_likelihood(x).mean().item()
    gaps = []
    for k in (1, 10, 100, 2000):
        torch.manual_seed(k)
        estimate = iwae_bound(log_importance_weights(vae.model, vae.guide, x, num_samples=k)).mean().item()
        gaps.append(exact - estimate)
    assert gaps[0] > 0.2, gaps  # a single sample is the ELBO: a clear gap
    assert all(a > b for a, b in itertools.pairwise(gaps)), gaps
    assert 0 <= gaps[-1] < 0.01, gaps


def test_evaluate_split_reports_elbo_and_log_likelihood(lg, x, device):
    vae = linear_vae(lg)
    set_guide(vae, lg, loc_shift=0.4, scale_factor=1.5)
    exact = lg.log_likelihood(x).mean().item()
    expected_elbo = exact - kl_to_posterior(vae, lg, x).mean().item()
    result = evaluate_split(vae.to(device), Split(x, None), samples=2000, batch_size=64)  # batches go to the VAE
    assert result.samples == 2000
    assert abs(result.elbo - expected_elbo) < 0.02
    assert result.elbo < result.log_likelihood <= exact + 0.005
    assert exact - result.log_likelihood < 0.01


def test_evaluation_chunks_particles_without_changing_the_estimate(lg, x):
    vae = linear_vae(lg)
    set_guide(vae, lg, loc_shift=0.4, scale_factor=1.5)
    torch.manual_seed(3)
    whole = log_importance_weights(vae.model, vae.guide, x, num_samples=64)
    torch.manual_seed(3)
    chunked = log_importance_weights(vae.model, vae.guide, x, num_samples=64, chunk=64)
    torch.testing.assert_close(whole, chunked)
    torch.manual_seed(3)
    pieces = log_importance_weights(vae.model, vae.guide, x, num_samples=64, chunk=5)
    assert pieces.shape == whole.shape
    assert abs(iwae_bound(pieces).mean() - iwae_bound(whole).mean()) < 0.05


def test_fitting_recovers_the_exact_maximum_likelihood_fit():
    """Fit by SVI on data from a linear-Gaussian model; compare with closed forms.

    The fitted VAE is itself linear-Gaussian (learned per-dimension scale), so its
    exact log p(x) is known: the importance-sampled estimate must match it, the
    ELBO must stay below it, and it must be as good as the generating model's.
    """
    truth = make_linear_gaussian(d=6, k=2, scale=0.5, seed=3)
    data = truth.sample(3000, torch.Generator().manual_seed(4)).float()
    result = pyro_vae.fit(
        data=data,
        z_dim=2,
        likelihood={"name": "normal", "scale": 1.0, "learn_scale": True},
        network={"name": "mlp", "hidden": []},
        epochs=60,
        batch_size=100,
        lr=1e-2,
        patience=0,
        eval={"samples": 1000},
        **{"data.binarize": "none"},
    )
    test = result.data.test.x.double()
    (decoder,) = result.vae.model.decoder.net
    fitted = type(truth)(
        decoder.weight.detach().double(),
        decoder.bias.detach().double(),
        result.vae.likelihood.scale.detach().double(),
    )
    fitted_ll = fitted.log_likelihood(test).mean().item()
    true_ll = truth.log_likelihood(test).mean().item()
    summary = result.summary
    assert summary["test_elbo"] < fitted_ll
    assert abs(summary["test_log_likelihood"] - fitted_ll) < 0.02
    assert fitted_ll > true_ll - 0.05
