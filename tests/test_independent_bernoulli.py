"""IndependentBernoulli scores, broadcasts and validates as Bernoulli(logits).to_event(n)."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import pytest
import torch

from pyro_vae.distributions import IndependentBernoulli
from pyro_vae.likelihoods import LIKELIHOODS


def _logits_and_images(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded logits for 3 particles x 4 images of 1 x 5 x 6 pixels (some beyond softplus's threshold of 20)."""
    gen = torch.Generator().manual_seed(0)
    logits = 8.0 * torch.randn(3, 4, 1, 5, 6, generator=gen, dtype=dtype)
    logits[0, 0, 0, 0, :3] = torch.tensor([25.0, -25.0, 60.0], dtype=dtype)
    images = torch.bernoulli(torch.full((4, 1, 5, 6), 0.4, dtype=dtype), generator=gen)
    return logits, images


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_log_prob_matches_bernoulli_to_event(dtype):
    logits, images = _logits_and_images(dtype)
    ours = IndependentBernoulli(logits, 3).log_prob(images)  # images broadcast against the particles
    exact = dist.Bernoulli(logits=logits.double()).to_event(3).log_prob(images.double())
    assert ours.shape == exact.shape == (3, 4)
    # float32: the two sums are each ~1e3, so rounding is a few of their ulps (6e-5)
    tolerance = 1e-9 if dtype == torch.float64 else 5e-4
    assert (ours.double() - exact).abs().max().item() < tolerance


def test_gradient_matches_bernoulli_to_event():
    logits, images = _logits_and_images(torch.float64)
    logits.requires_grad_()
    (ours,) = torch.autograd.grad(IndependentBernoulli(logits, 3).log_prob(images).sum(), logits)
    (exact,) = torch.autograd.grad(dist.Bernoulli(logits=logits).to_event(3).log_prob(images).sum(), logits)
    torch.testing.assert_close(ours, exact)


def test_a_plate_expands_it_and_keeps_the_fast_scoring():
    logits, images = _logits_and_images(torch.float32)

    def model() -> None:
        with pyro.plate("data", 4):
            pyro.sample("x", IndependentBernoulli(logits[0, :1], 3), obs=images)

    site = pyro.poutine.trace(model).get_trace().nodes["x"]
    assert isinstance(site["fn"], IndependentBernoulli)
    assert site["fn"].batch_shape == (4,) and site["fn"].event_shape == (1, 5, 6)
    expected = dist.Bernoulli(logits=logits[0, :1]).to_event(3).log_prob(images)
    torch.testing.assert_close(site["fn"].log_prob(images), expected, rtol=1e-6, atol=1e-4)


def test_validation_refuses_values_that_are_not_bits():
    logits, images = _logits_and_images(torch.float32)
    with pytest.raises(ValueError, match="support"):
        IndependentBernoulli(logits, 3, validate_args=True).log_prob(images * 0.5)


def test_the_bernoulli_likelihood_uses_it_and_keeps_its_mean():
    likelihood = LIKELIHOODS.build("bernoulli", event_shape=(1, 5, 6))
    logits, _ = _logits_and_images(torch.float32)
    params = logits.unsqueeze(-4)  # the decoder's one-parameter axis
    assert isinstance(likelihood.distribution(params), IndependentBernoulli)
    torch.testing.assert_close(likelihood.mean(params), torch.sigmoid(logits))


@pytest.mark.parametrize("training", [False, True], ids=["evaluation", "training"])
def test_no_event_dimensions_scores_each_value(training):
    logits, images = _logits_and_images(torch.float64)
    ours = IndependentBernoulli(logits.requires_grad_(training), 0).log_prob(images).detach()
    torch.testing.assert_close(ours, dist.Bernoulli(logits=logits).log_prob(images.expand_as(logits)))


def test_evaluation_and_training_score_alike():
    """Without gradients the softplus sum is grouped; with them, binary cross-entropy (its backward is fused).

    The two paths differ only by rounding.
    """
    logits, images = _logits_and_images(torch.float32)
    with torch.no_grad():
        evaluated = IndependentBernoulli(logits, 3).log_prob(images)
    trained = IndependentBernoulli(logits.clone().requires_grad_(), 3).log_prob(images).detach()
    torch.testing.assert_close(evaluated, trained, rtol=1e-6, atol=1e-4)
