"""The scores a training step computes without building distributions equal the distributions' own.

With Pyro's validation off (how the trainer runs), ``NormalPosterior.rsample_and_log_prob``,
``StandardNormalPrior.log_prob`` and ``BernoulliLikelihood.log_prob`` use closed forms; with it on they
build the checked distributions. Both must give the same draw, value and gradient (float64, rounding only).
"""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import pytest
import torch

from guides.posteriors import BernoulliPosterior, NormalPosterior
from pyro_vae.distributions import standard_normal_log_prob
from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.priors import PRIORS

VALIDATION = pytest.mark.parametrize("validate", [False, True], ids=["unchecked", "validated"])
SAMPLE_SHAPES = pytest.mark.parametrize("sample_shape", [(), (3,)], ids=["one-draw", "three-particles"])


def _features(dim: int, outputs: int) -> torch.Tensor:
    """Seeded float64 encoder outputs for 4 examples, with a gradient."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn(4, outputs * dim, generator=gen, dtype=torch.float64).requires_grad_()


@VALIDATION
@SAMPLE_SHAPES
def test_normal_posterior_draws_and_scores_as_its_distribution(validate, sample_shape):
    family, features = NormalPosterior(dim=3, event_size=10), _features(3, 2)
    with pyro.validation_enabled(validate):
        torch.manual_seed(1)
        z, log_q = family.rsample_and_log_prob(features, sample_shape)
    torch.manual_seed(1)
    q = family.distribution(features)
    z_ref = q.rsample(sample_shape)
    log_q_ref = q.log_prob(z_ref)
    assert z.shape == (*sample_shape, 4, 3) and log_q.shape == (*sample_shape, 4)
    torch.testing.assert_close(z, z_ref, rtol=0, atol=0)  # the same draw, bit for bit
    torch.testing.assert_close(log_q, log_q_ref, rtol=1e-12, atol=1e-12)
    # the total gradient (through z too) of any function of the draw and its score
    (grad,) = torch.autograd.grad((z.sin().sum() + log_q.sum()), features)
    (grad_ref,) = torch.autograd.grad((z_ref.sin().sum() + log_q_ref.sum()), features)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-12, atol=1e-12)


def test_normal_posterior_score_is_the_closed_form():
    family = NormalPosterior(dim=2, event_size=10)
    # loc = (0, 0), scale = softplus(raw) + MIN_SCALE = 1 exactly where softplus(raw) = 1 - MIN_SCALE
    raw = math.log(math.expm1(1 - 1e-6))
    features = torch.tensor([[0.0, 0.0, raw, raw]], dtype=torch.float64)
    with pyro.validation_enabled(False):
        z, log_q = family.rsample_and_log_prob(features)
    expected = -0.5 * z.square().sum(-1) - math.log(2 * math.pi)
    torch.testing.assert_close(log_q, expected, rtol=1e-12, atol=1e-12)


def test_discrete_codes_have_no_reparameterised_draw():
    family = BernoulliPosterior(dim=3, event_size=10)
    with pytest.raises(NotImplementedError, match="BernoulliPosterior draws codes without a reparameterised draw"):
        family.rsample_and_log_prob(_features(3, 1))


def test_standard_normal_log_prob_per_event():
    value = torch.tensor([[[0.0, 1.0], [2.0, -1.0]]], dtype=torch.float64)  # one event of 2 x 2
    expected = torch.tensor([-0.5 * 6.0 - 2 * math.log(2 * math.pi)], dtype=torch.float64)
    torch.testing.assert_close(standard_normal_log_prob(value, event_dims=2), expected)
    torch.testing.assert_close(
        standard_normal_log_prob(value), dist.Normal(0.0, 1.0).expand([1, 2, 2]).to_event(1).log_prob(value)
    )


@VALIDATION
@pytest.mark.parametrize("name", ["normal", "learned_normal", "laplace", "mixture"])
def test_prior_log_prob_is_its_distributions(name, validate):
    prior = PRIORS.build(name, z_dim=3).double()
    z = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with pyro.validation_enabled(validate):
        ours = prior.log_prob(z)
    assert ours.shape == (2, 4)
    torch.testing.assert_close(ours, prior().log_prob(z), rtol=1e-12, atol=1e-12)


@VALIDATION
@pytest.mark.parametrize("training", [False, True], ids=["evaluation", "training"])
@pytest.mark.parametrize("name", ["bernoulli", "normal", "categorical256"])
def test_likelihood_log_prob_is_its_distributions(name, training, validate):
    likelihood = LIKELIHOODS.build(name, event_shape=(1, 5, 7))
    gen = torch.Generator().manual_seed(4)
    params = torch.randn(4, likelihood.params_per_dim, 1, 5, 7, generator=gen, dtype=torch.float64)
    params.requires_grad_(training)
    x = torch.bernoulli(torch.full((4, 1, 5, 7), 0.3, dtype=torch.float64), generator=gen)
    x = x if name == "bernoulli" else x * 200
    with pyro.validation_enabled(validate):
        ours = likelihood.log_prob(params, x)
    exact = likelihood.distribution(params).log_prob(x)
    assert ours.shape == (4,)
    torch.testing.assert_close(ours, exact, rtol=1e-12, atol=1e-9)
    if training:
        torch.testing.assert_close(
            torch.autograd.grad(ours.sum(), params), torch.autograd.grad(exact.sum(), params), rtol=1e-12, atol=1e-12
        )
