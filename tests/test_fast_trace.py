"""The direct (untraced) path gives Pyro's numbers: Trace_ELBO's in training, the traced log-weights in evaluation."""

from __future__ import annotations

import math

import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import Trace_ELBO
from test_components import EVENT, data_for

from pyro_vae._pyro import local_params
from pyro_vae.config import ModelConfig
from pyro_vae.estimators import ESTIMATORS, direct_applies, direct_log_weights, draw_particles
from pyro_vae.estimators.fast_trace import FastTrace_ELBO
from pyro_vae.evaluation import log_importance_weights
from pyro_vae.vae import VAE, build_vae

CONTINUOUS = ["normal", "learned_normal", "laplace", "mixture", {"name": "vamp", "components": 4}]
LIKELIHOODS = ["bernoulli", "normal", "categorical256"]


def _seeded_vae(prior: object, likelihood: str, dtype: torch.dtype = torch.float32) -> tuple[VAE, torch.Tensor]:
    """A small VAE with ``prior`` and ``likelihood``, initialised from seed 0, and a batch it fits, in ``dtype``."""
    torch.manual_seed(0)
    vae = build_vae(ModelConfig(z_dim=3, prior=prior, likelihood=likelihood), EVENT).to(dtype)
    return vae, data_for(likelihood, torch.Generator().manual_seed(1)).to(dtype)


def _loss_and_grads(
    vae: VAE, elbo: object, x: torch.Tensor, kl_weight: float, validate: bool = True
) -> tuple[float, list[torch.Tensor]]:
    vae.zero_grad(set_to_none=True)
    torch.manual_seed(3)
    with local_params(), pyro.validation_enabled(validate):
        loss = elbo(vae.model, vae.guide)(x, kl_weight=kl_weight)
    loss.backward()
    return loss.item(), [p.grad.clone() for p in vae.parameters() if p.grad is not None]


# training runs with Pyro's validation off (train.validate_distributions), where closed forms replace the
# distributions (NormalPosterior.rsample_and_log_prob, StandardNormalPrior.log_prob, BernoulliLikelihood.log_prob)
VALIDATION = pytest.mark.parametrize("validate", [False, True], ids=["unchecked", "validated"])


@VALIDATION
@pytest.mark.parametrize("likelihood", LIKELIHOODS)
@pytest.mark.parametrize("prior", CONTINUOUS, ids=lambda p: p if isinstance(p, str) else p["name"])
def test_direct_path_matches_pyro_trace_elbo_in_value_and_gradient(prior, likelihood, validate):
    # float64: the closed forms differ from the distributions' scores by rounding only (in float32 the
    # gradients of categorical256's terms in the thousands differ by up to 2e-5 relative)
    vae, x = _seeded_vae(prior, likelihood, torch.float64)
    fast, fast_grads = _loss_and_grads(vae, ESTIMATORS.build("trace", max_plate_nesting=1), x, 0.5, validate)
    slow, slow_grads = _loss_and_grads(vae, Trace_ELBO(max_plate_nesting=1), x, 0.5)
    assert fast == pytest.approx(slow, rel=1e-12)
    assert len(fast_grads) == len(slow_grads)
    for a, b in zip(fast_grads, slow_grads, strict=True):
        assert ((a - b).norm() / b.norm().clamp_min(1e-12)).item() < 1e-9


@VALIDATION
@pytest.mark.parametrize("likelihood", LIKELIHOODS)
@pytest.mark.parametrize("prior", CONTINUOUS, ids=lambda p: p if isinstance(p, str) else p["name"])
def test_direct_log_weights_match_the_traced_particles(prior, likelihood, validate):
    vae, x = _seeded_vae(prior, likelihood, torch.float64)
    with torch.no_grad(), local_params(), pyro.validation_enabled(validate):
        torch.manual_seed(5)
        direct = direct_log_weights(vae.model, vae.guide, x, 6)
        torch.manual_seed(5)
        traced = draw_particles(vae.model, vae.guide, (x,), {}, 6).log_w
    assert direct.shape == traced.shape == (6, x.shape[0])
    torch.testing.assert_close(direct, traced, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("prior", CONTINUOUS, ids=lambda p: p if isinstance(p, str) else p["name"])
def test_importance_weights_take_the_direct_path_and_keep_their_values(prior):
    vae = build_vae(ModelConfig(z_dim=2, prior=prior), EVENT)  # the prior is built once for all chunks
    x = data_for("bernoulli", torch.Generator().manual_seed(1))
    torch.manual_seed(7)
    chunked = log_importance_weights(vae.model, vae.guide, x, 7, chunk=3)
    torch.manual_seed(7)
    with torch.no_grad(), local_params():
        traced = torch.cat([draw_particles(vae.model, vae.guide, (x,), {}, k).log_w for k in (3, 3, 1)])
    torch.testing.assert_close(chunked, traced, rtol=1e-6, atol=1e-4)


def test_direct_path_is_taken_only_where_it_is_exact():
    plain = build_vae(ModelConfig(z_dim=2), (5,))
    x = torch.bernoulli(torch.full((4, 5), 0.5))
    assert direct_applies(plain.model, plain.guide, (x,), {"kl_weight": 1.0})
    binary = build_vae(ModelConfig(z_dim=2, prior="bernoulli"), (5,))
    mixed = build_vae(ModelConfig(z_dim=2, bits=2), (5,))
    assert not direct_applies(binary.model, binary.guide, (x,), {})
    assert not direct_applies(mixed.model, mixed.guide, (x,), {})
    assert not direct_applies(plain.model, plain.guide, (x, x), {})
    with poutine.trace():
        assert not direct_applies(plain.model, plain.guide, (x,), {})


def test_unchecked_training_scores_without_building_the_distributions(monkeypatch):
    vae, x = _seeded_vae("normal", "bernoulli")

    def refuse(*args, **kwargs):
        raise AssertionError("a distribution was built")

    for owner in ("guides.posteriors.NormalPosterior", "pyro_vae.priors.gaussian.StandardNormalPrior"):
        monkeypatch.setattr(f"{owner}.forward" if "Prior" in owner else f"{owner}.distribution", refuse)
    monkeypatch.setattr("pyro_vae.likelihoods.bernoulli.BernoulliLikelihood.distribution", refuse)
    loss, grads = _loss_and_grads(vae, ESTIMATORS.build("trace", max_plate_nesting=1), x, 1.0, validate=False)
    assert math.isfinite(loss) and grads
    with pytest.raises(AssertionError, match="a distribution was built"):
        _loss_and_grads(vae, ESTIMATORS.build("trace", max_plate_nesting=1), x, 1.0, validate=True)


def test_several_particles_leave_the_direct_path_for_trace_elbo(monkeypatch):
    plain = build_vae(ModelConfig(z_dim=2), (5,))
    x = torch.bernoulli(torch.full((4, 5), 0.5))

    def refuse(*args, **kwargs):
        raise AssertionError("the direct path was taken")

    monkeypatch.setattr("pyro_vae.estimators.fast_trace.direct_log_weights", refuse)
    elbo = FastTrace_ELBO(num_particles=2, vectorize_particles=True, max_plate_nesting=1)
    with local_params():
        loss = elbo.differentiable_loss(plain.model, plain.guide, x)
    assert torch.isfinite(loss)
    with pytest.raises(AssertionError, match="direct path"), local_params():
        FastTrace_ELBO(max_plate_nesting=1).differentiable_loss(plain.model, plain.guide, x)
