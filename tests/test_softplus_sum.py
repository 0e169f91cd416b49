"""softplus_sum: the grouped no-gradient form gives softplus(l).sum() up to rounding, and exact gradients."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn.functional import softplus

from pyro_vae.distributions._softplus_sum import GROUP, softplus_sum


def _exact(logits: torch.Tensor, dims: int) -> torch.Tensor:
    """``log(1 + exp(l))`` in float64, summed (``softplus`` itself returns ``l`` above 20, off by ``exp(-20)``)."""
    return torch.logaddexp(logits.double(), torch.zeros((), dtype=torch.float64)).sum(tuple(range(-dims, 0)))


def _logits(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Seeded logits of a trained decoder's range (most below 0, a tail to -300), with extremes mixed in."""
    gen = torch.Generator().manual_seed(0)
    logits = (-40.0 * torch.rand(shape, generator=gen) ** 3 + 12.0 * torch.randn(shape, generator=gen)).to(dtype)
    flat = logits.view(-1)
    extremes = [0.0, -0.0, 25.0, -25.0, 90.0, -90.0, -300.0, -1e4, 1e-30]
    flat[: min(len(extremes), flat.numel())] = torch.tensor(extremes, dtype=dtype)[: flat.numel()]
    return logits


WIDTHS = {
    "one": (1,),
    "below-group": (5,),
    "group": (GROUP,),
    "mnist": (784,),
    "image": (1, 28, 28),
    "two-groups-3": (2 * GROUP + 3,),
}


@pytest.mark.parametrize("event", WIDTHS.values(), ids=WIDTHS.keys())
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_grouped_form_matches_softplus_sum(event, dtype):
    logits = _logits((3, 7, *event), dtype)
    dims = len(event)
    exact = _exact(logits, dims)
    ours = softplus_sum(logits, dims)
    assert ours.shape == exact.shape == (3, 7) and ours.dtype == dtype
    # float32: each factor rounds to 6e-8 relative, as each softplus term does; sums reach ~1e4
    tolerance = 1e-10 if dtype == torch.float64 else 2e-6 * float(exact.abs().max()) + 1e-5
    assert (ours.double() - exact).abs().max().item() < tolerance


def test_float32_error_is_that_of_the_element_wise_sum():
    logits = _logits((50, 100, 784), torch.float32)
    exact = _exact(logits, 1)
    grouped = (softplus_sum(logits, 1).double() - exact).abs().max().item()
    element_wise = (softplus(logits).sum(-1).double() - exact).abs().max().item()
    assert grouped < 3 * element_wise + 1e-6


def test_half_precision_groups_stay_finite():
    logits = torch.full((2, 300), 0.0, dtype=torch.float16)  # every factor is 2: 2**300 would overflow
    torch.testing.assert_close(softplus_sum(logits, 1), torch.full((2,), 300 * 0.6931, dtype=torch.float16))


@pytest.mark.parametrize(
    "value, expected",
    [(float("inf"), float("inf")), (float("-inf"), 0.0), (float("nan"), float("nan"))],
    ids=["plus-inf", "minus-inf", "nan"],
)
def test_non_finite_logits_behave_like_softplus(value, expected):
    logits = torch.zeros(2, 10)
    logits[0, 3] = value
    ours = softplus_sum(logits, 1)
    torch.testing.assert_close(ours, softplus(logits).sum(-1), equal_nan=True)
    torch.testing.assert_close(ours[0], torch.tensor(expected + 9 * math.log(2.0)), equal_nan=True)


def test_with_gradients_it_is_softplus_even_at_zero():
    logits = _logits((4, 784), torch.float64).requires_grad_()
    (grad,) = torch.autograd.grad(softplus_sum(logits, 1).sum(), logits)
    torch.testing.assert_close(grad, torch.sigmoid(logits.detach()))
    assert grad[0, 0].item() == 0.5  # the logit set to 0: |l| would give 0 here
