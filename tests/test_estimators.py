"""Every estimator's value is the bound it claims and its gradient is unbiased for that bound's gradient.

Checked on the linear-Gaussian VAE, where the ELBO and its gradient have a
closed form, and where, with the guide set to the exact posterior, every
importance weight equals ``p(x)``.
"""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from linear_gaussian import closed_form_elbo, linear_vae, make_linear_gaussian, set_guide

import pyro_vae
from pyro_vae._pyro import local_params
from pyro_vae.errors import ConfigError
from pyro_vae.estimators import ESTIMATORS, ScopedJit
from pyro_vae.evaluation import iwae_bound, log_importance_weights

ALL = ESTIMATORS.names()
#: estimators whose reported value is an ELBO estimate (the others report an IWAE/Renyi bound)
ELBO_VALUED = ["trace", "meanfield", "graph", "jit_trace", "jit_meanfield", "stl", "tail_adaptive"]


def loss_module(spec, vae):
    return ESTIMATORS.build(spec, max_plate_nesting=1)(vae.model, vae.guide)


def gradients(vae, module, x) -> torch.Tensor:
    """All parameter gradients of one estimate, flattened."""
    vae.zero_grad(set_to_none=True)
    with local_params():
        module(x).backward()
    return torch.cat([p.grad.flatten() for p in vae.parameters()])


def exact_elbo_gradient(vae, x) -> torch.Tensor:
    vae.zero_grad(set_to_none=True)
    (-closed_form_elbo(vae, x)).backward()
    return torch.cat([p.grad.flatten() for p in vae.parameters()])


@pytest.fixture
def lg():
    return make_linear_gaussian(d=6, k=2, scale=0.5, seed=0)


@pytest.fixture
def x(lg):
    return lg.sample(4, torch.Generator().manual_seed(1))


def test_the_issue_s_estimators_are_registered():
    expected = {"trace", "meanfield", "graph", "renyi", "iwae", "tail_adaptive", "jit_trace", "jit_meanfield"}
    assert expected | {"stl", "dreg"} <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_with_the_exact_posterior_every_estimator_reports_log_likelihood(lg, x, name):
    vae = linear_vae(lg)
    set_guide(vae, lg)
    # every weight is exact; meanfield adds an analytic KL to a Monte Carlo log-likelihood term,
    # so it gets many particles and a tolerance of a few standard errors (about 0.05 nats here)
    particles = 2000 if "meanfield" in name else 3
    spec = {"name": name, "num_particles": particles} if name != "graph" else name
    with local_params():
        value = -loss_module(spec, vae)(x).item()
    exact = lg.log_likelihood(x).sum().item()
    tolerance = 0.25 if "meanfield" in name else 1e-5
    assert value == pytest.approx(exact, abs=tolerance)


@pytest.mark.parametrize(("name", "k"), [("iwae", 1), ("iwae", 7), ("dreg", 7), ("renyi", 7)])
def test_multi_sample_values_equal_the_bound_computed_by_evaluation(lg, x, name, k):
    vae = linear_vae(lg)
    set_guide(vae, lg, loc_shift=0.4, scale_factor=1.5)
    torch.manual_seed(5)
    with local_params():
        value = -loss_module({"name": name, "num_particles": k}, vae)(x).item()
    torch.manual_seed(5)
    log_w = log_importance_weights(vae.model, vae.guide, x, k)
    if name == "renyi":  # default alpha 0.5: (logsumexp(w^0.5) - log K) / 0.5
        expected = ((torch.logsumexp(0.5 * log_w, 0) - math.log(k)) / 0.5).sum().item()
    else:
        expected = iwae_bound(log_w).sum().item()
    assert value == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("name", ["stl", "tail_adaptive"])
def test_elbo_valued_estimators_report_the_mean_log_weight(lg, x, name):
    vae = linear_vae(lg)
    set_guide(vae, lg, loc_shift=0.4, scale_factor=1.5)
    torch.manual_seed(5)
    with local_params():
        value = -loss_module({"name": name, "num_particles": 4}, vae)(x).item()
    torch.manual_seed(5)
    expected = log_importance_weights(vae.model, vae.guide, x, 4).mean(0).sum().item()
    assert value == pytest.approx(expected, rel=1e-10)


def test_bounds_are_ordered_elbo_renyi_iwae_log_likelihood(lg):
    x = lg.sample(400, torch.Generator().manual_seed(2))
    vae = linear_vae(lg)
    set_guide(vae, lg, loc_shift=0.4, scale_factor=1.5)
    with torch.no_grad(), local_params():
        values = {
            spec["name"] if "alpha" not in spec else "renyi": -loss_module(spec, vae)(x).item() / 400
            for spec in (
                {"name": "trace", "num_particles": 10},
                {"name": "renyi", "alpha": 0.5, "num_particles": 10},
                {"name": "iwae", "num_particles": 10},
            )
        }
    exact = lg.log_likelihood(x).mean().item()
    assert values["trace"] < values["renyi"] < values["iwae"] < exact
    assert closed_form_elbo(vae, x).item() / 400 == pytest.approx(values["trace"], abs=0.05)


def replicated_gradients(vae, spec, x, copies=400, repeats=30):
    """Mean and standard error of ``repeats`` gradient estimates on ``copies`` copies of each example.

    The loss sums over the batch, so one call averages ``copies`` independent
    estimates per example: their mean (divided by ``copies``) estimates the
    per-batch gradient with ``copies`` times less variance.
    """
    batch = x.repeat(copies, 1)
    module = loss_module(spec, vae)
    draws = torch.stack([gradients(vae, module, batch) / copies for _ in range(repeats)])
    return draws.mean(0), draws.std(0) / math.sqrt(repeats)


K1_SPECS = [
    "trace",
    "meanfield",
    "graph",
    "jit_trace",
    "jit_meanfield",
    "stl",
    {"name": "iwae", "num_particles": 1},
    {"name": "dreg", "num_particles": 1},
    {"name": "renyi", "num_particles": 1},
    {"name": "tail_adaptive", "num_particles": 1},
]


@pytest.mark.parametrize("spec", K1_SPECS, ids=lambda s: s if isinstance(s, str) else f"{s['name']}-K1")
def test_single_sample_gradients_are_unbiased_for_the_exact_elbo_gradient(lg, x, spec):
    vae = linear_vae(lg)
    set_guide(vae, lg, loc_shift=0.4, scale_factor=1.5)
    torch.manual_seed(0)
    mean, stderr = replicated_gradients(vae, spec, x)
    exact = exact_elbo_gradient(vae, x)
    assert exact.abs().max() > 1.0  # far from the optimum: a real signal to recover
    assert ((mean - exact).abs() <= 5 * stderr + 1e-6).all(), (mean - exact).abs() / (stderr + 1e-12)


def split_gradient(vae, flat):
    """``flat`` split into the guide's and the model's parameters."""
    sizes = [p.numel() for p in vae.parameters()]
    names = [n for n, _ in vae.named_parameters()]
    parts = dict(zip(names, flat.split(sizes), strict=True))
    guide = torch.cat([v for n, v in parts.items() if n.startswith("guide.")])
    model = torch.cat([v for n, v in parts.items() if n.startswith("model.")])
    return guide, model


@pytest.mark.parametrize("k", [2, 8])
def test_dreg_gradient_is_unbiased_for_the_iwae_gradient(lg, x, k):
    vae = linear_vae(lg)
    set_guide(vae, lg, loc_shift=0.4, scale_factor=1.5)
    torch.manual_seed(0)
    dreg_mean, dreg_se = replicated_gradients(vae, {"name": "dreg", "num_particles": k}, x)
    iwae_mean, iwae_se = replicated_gradients(vae, {"name": "iwae", "num_particles": k}, x)
    tolerance = 5 * torch.sqrt(dreg_se**2 + iwae_se**2) + 1e-6
    assert ((dreg_mean - iwae_mean).abs() <= tolerance).all()
    assert dreg_mean.abs().max() > 0.5


def test_dreg_and_iwae_share_the_decoder_gradient_of_the_same_particles(lg, x):
    vae = linear_vae(lg)
    set_guide(vae, lg, loc_shift=0.4, scale_factor=1.5)
    torch.manual_seed(3)
    dreg = gradients(vae, loss_module({"name": "dreg", "num_particles": 6}, vae), x)
    torch.manual_seed(3)
    iwae = gradients(vae, loss_module({"name": "iwae", "num_particles": 6}, vae), x)
    dreg_guide, dreg_model = split_gradient(vae, dreg)
    iwae_guide, iwae_model = split_gradient(vae, iwae)
    torch.testing.assert_close(dreg_model, iwae_model)
    assert not torch.allclose(dreg_guide, iwae_guide)


def test_stl_and_trace_share_the_decoder_gradient_of_the_same_particles(lg, x):
    vae = linear_vae(lg)
    set_guide(vae, lg, loc_shift=0.4, scale_factor=1.5)
    torch.manual_seed(3)
    stl = gradients(vae, loss_module({"name": "stl", "num_particles": 2}, vae), x)
    torch.manual_seed(3)
    trace = gradients(vae, loss_module({"name": "trace", "num_particles": 2}, vae), x)
    torch.testing.assert_close(split_gradient(vae, stl)[1], split_gradient(vae, trace)[1])
    assert not torch.allclose(split_gradient(vae, stl)[0], split_gradient(vae, trace)[0])


@pytest.mark.parametrize("name", ["dreg", "stl"])
def test_path_gradient_estimators_have_zero_guide_gradient_at_the_exact_posterior(lg, x, name):
    vae = linear_vae(lg)
    set_guide(vae, lg)
    guide_grad, _ = split_gradient(vae, gradients(vae, loss_module({"name": name, "num_particles": 8}, vae), x))
    assert guide_grad.abs().max() < 1e-6
    # the score-function part that IWAE keeps is zero only on average
    iwae_guide, _ = split_gradient(vae, gradients(vae, loss_module({"name": "iwae", "num_particles": 8}, vae), x))
    assert iwae_guide.abs().max() > 0.1


def test_decoder_gradient_at_the_exact_posterior_estimates_the_log_likelihood_gradient(lg, x):
    vae = linear_vae(lg)
    set_guide(vae, lg)
    torch.manual_seed(0)
    mean, stderr = replicated_gradients(vae, {"name": "dreg", "num_particles": 4}, x)
    vae.zero_grad(set_to_none=True)
    (layer,) = vae.model.decoder.net
    covariance = layer.weight @ layer.weight.T + torch.diag(vae.likelihood.scale**2)
    marginal = torch.distributions.MultivariateNormal(layer.bias, covariance_matrix=covariance)
    (-marginal.log_prob(x).sum()).backward()
    _, exact = split_gradient(
        vae,
        torch.cat([torch.zeros_like(p).flatten() if p.grad is None else p.grad.flatten() for p in vae.parameters()]),
    )
    _, model_mean = split_gradient(vae, mean)
    _, model_se = split_gradient(vae, stderr)
    assert ((model_mean - exact).abs() <= 5 * model_se + 1e-6).all()


def test_renyi_alpha_one_is_refused_with_the_alternative():
    with pytest.raises(ConfigError, match="use 'trace'"):
        ESTIMATORS.build({"name": "renyi", "alpha": 1}, max_plate_nesting=1)


@pytest.mark.parametrize("name", ["iwae", "dreg", "stl", "tail_adaptive", "trace", "jit_trace"])
def test_num_particles_must_be_positive(name):
    with pytest.raises(ConfigError, match="option 'num_particles' must be a positive integer"):
        ESTIMATORS.build({"name": name, "num_particles": 0}, max_plate_nesting=1)


@pytest.mark.parametrize("name", ["iwae", "dreg", "stl", "renyi", "tail_adaptive"])
def test_path_estimators_refuse_discrete_latents_and_name_the_alternative(name):
    def model(x):
        with pyro.plate("data", x.shape[0], dim=-1):
            z = pyro.sample("z", dist.Bernoulli(0.5 * torch.ones(3)).to_event(1))
            pyro.sample("x", dist.Normal(z.sum(-1), 1.0), obs=x)

    def guide(x):
        with pyro.plate("data", x.shape[0], dim=-1):
            pyro.sample("z", dist.Bernoulli(0.3 * torch.ones(3)).to_event(1))

    with pytest.raises(ConfigError, match=r"site 'z' .*use estimator 'graph'"):
        ESTIMATORS.build(name, max_plate_nesting=1).differentiable_loss(model, guide, torch.zeros(2))


def test_jit_estimators_refuse_kl_warm_up_before_training():
    with pytest.raises(ConfigError, match="kl_warmup_epochs"):
        pyro_vae.fit(estimator="jit_trace", kl_warmup_epochs=2, epochs=1)
    assert isinstance(ESTIMATORS.build("jit_trace", max_plate_nesting=1), ScopedJit)


@pytest.mark.parametrize("name", ALL)
def test_every_estimator_trains_a_vae(name):
    result = pyro_vae.fit(
        epochs=2, batch_size=64, estimator=name, eval={"samples": 20}, network={"name": "mlp", "hidden": [32]}
    )
    assert result.history[1]["val_elbo"] > result.history[0]["val_elbo"]
    assert math.isfinite(result.summary["test_log_likelihood"])
