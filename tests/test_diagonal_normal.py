"""DiagonalNormal and StandardNormal score, draw, broadcast and divide as Normal(loc, scale).to_event(n)."""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from torch.distributions import kl_divergence

from pyro_vae.distributions import DiagonalNormal, StandardNormal


def _moments_and_codes(event_dims: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded float64 means and scales of 4 examples x an event of 5 (x 3), and codes for 2 particles of them."""
    gen = torch.Generator().manual_seed(0)
    event = (5,) if event_dims == 1 else (5, 3)
    loc = torch.randn(4, *event, generator=gen, dtype=torch.float64)
    scale = 0.1 + torch.rand(4, *event, generator=gen, dtype=torch.float64)
    codes = torch.randn(2, 4, *event, generator=gen, dtype=torch.float64)
    return loc, scale, codes


@pytest.mark.parametrize("event_dims", [1, 2], ids=["code", "image"])
def test_log_prob_and_gradient_match_normal_to_event(event_dims):
    loc, scale, codes = _moments_and_codes(event_dims)
    loc.requires_grad_(), scale.requires_grad_()
    ours = DiagonalNormal(loc, scale, event_dims).log_prob(codes)
    exact = dist.Normal(loc, scale).to_event(event_dims).log_prob(codes)
    assert ours.shape == exact.shape == (2, 4)
    torch.testing.assert_close(ours, exact, rtol=1e-12, atol=1e-12)
    grads = torch.autograd.grad(ours.sum(), (loc, scale))
    torch.testing.assert_close(grads, torch.autograd.grad(exact.sum(), (loc, scale)))


def test_standard_normal_is_the_closed_form():
    codes = torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 3.0]], dtype=torch.float64)
    expected = -0.5 * torch.tensor([0.0, 14.0], dtype=torch.float64) - 1.5 * math.log(2 * math.pi)
    torch.testing.assert_close(StandardNormal(torch.zeros(3, dtype=torch.float64)).log_prob(codes), expected)


def test_a_code_smaller_than_the_batch_is_broadcast():
    prior = StandardNormal(torch.zeros(3)).expand([4])
    assert prior.batch_shape == (4,) and prior.event_shape == (3,)
    assert prior.log_prob(torch.zeros(3)).shape == (4,)
    loc, scale, codes = _moments_and_codes(1)
    expanded = DiagonalNormal(loc[0], scale[0]).expand([4])
    assert type(expanded) is DiagonalNormal and expanded.batch_shape == (4,)
    torch.testing.assert_close(
        expanded.log_prob(codes[0, 0]), dist.Normal(loc[0], scale[0]).to_event(1).log_prob(codes[0, 0]).expand(4)
    )


def test_draws_are_the_base_normals():
    loc, scale, _ = _moments_and_codes(1)
    torch.manual_seed(3)
    ours = DiagonalNormal(loc, scale).rsample((2,))
    torch.manual_seed(3)
    torch.testing.assert_close(ours, dist.Normal(loc, scale).to_event(1).rsample((2,)))


def test_analytic_kl_is_registered_for_both():
    loc, scale, _ = _moments_and_codes(1)
    # KL(N(m, s^2) || N(0, 1)) = sum(s^2 + m^2 - 1 - 2 log s) / 2 per example
    closed_form = 0.5 * (scale**2 + loc**2 - 1 - 2 * scale.log()).sum(-1)
    kl = kl_divergence(DiagonalNormal(loc, scale), StandardNormal(torch.zeros(5, dtype=torch.float64)))
    torch.testing.assert_close(kl, closed_form)


def test_invalid_codes_are_refused_when_validating():
    with pyro.validation_enabled(True), pytest.raises(ValueError, match="support"):
        DiagonalNormal(torch.zeros(3), torch.ones(3), validate_args=True).log_prob(torch.tensor([0.0, math.nan, 1.0]))
