"""DiagonalNormalMixture scores, samples and broadcasts as Pyro's MixtureSameFamily of diagonal Normals."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import pytest
import torch

from pyro_vae.distributions import DiagonalNormalMixture

DTYPES = [torch.float64, torch.float32]


def _parameters(dtype: torch.dtype, components: int = 30, dim: int = 6) -> tuple[torch.Tensor, ...]:
    """Seeded logits, locs and scales: components away from the origin, some of them narrow."""
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(components, generator=gen, dtype=dtype)
    locs = 3.0 + 2.0 * torch.randn(components, dim, generator=gen, dtype=dtype)
    scales = 0.05 + 0.5 * torch.rand(components, dim, generator=gen, dtype=dtype)
    return logits, locs, scales


def _reference(logits: torch.Tensor, locs: torch.Tensor, scales: torch.Tensor) -> dist.MixtureSameFamily:
    return dist.MixtureSameFamily(dist.Categorical(logits=logits), dist.Normal(locs, scales).to_event(1))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("value_shape", [(6,), (17, 6), (4, 5, 6)], ids=lambda s: "x".join(map(str, s)))
def test_log_prob_matches_mixture_same_family(dtype, value_shape):
    params = _parameters(dtype)
    reference = _reference(*params)
    torch.manual_seed(1)
    near = reference.sample(value_shape[:-1])  # codes where the mixture has its mass
    far = near + 4.0 * torch.randn(value_shape, dtype=dtype)
    for value in (near, far):
        exact = _reference(*(p.double() for p in params)).log_prob(value.double())
        ours = DiagonalNormalMixture(*params).log_prob(value)
        assert ours.shape == exact.shape == value_shape[:-1]
        ours_error = (ours.double() - exact).abs().max().item()
        if dtype == torch.float64:
            assert ours_error < 1e-10
        else:  # float32: within a few times MixtureSameFamily's own rounding error at the same precision
            reference_error = (reference.log_prob(value).double() - exact).abs().max().item()
            assert ours_error <= 4 * reference_error + 1e-5


def test_gradients_match_mixture_same_family():
    params = [p.requires_grad_() for p in _parameters(torch.float64)]
    value = _reference(*params).sample((20,)).requires_grad_()
    ours = torch.autograd.grad(DiagonalNormalMixture(*params).log_prob(value).sum(), [*params, value])
    exact = torch.autograd.grad(_reference(*params).log_prob(value).sum(), [*params, value])
    for a, b in zip(ours, exact, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_mean_and_variance_are_the_mixture_s():
    params = _parameters(torch.float64)
    ours, reference = DiagonalNormalMixture(*params), _reference(*params)
    torch.testing.assert_close(ours.mean, reference.mean)
    torch.testing.assert_close(ours.variance, reference.variance)


def test_samples_follow_the_mixture():
    params = _parameters(torch.float64)
    mixture = DiagonalNormalMixture(*params)
    torch.manual_seed(2)
    draws = mixture.sample((200_000,))
    assert draws.shape == (200_000, 6)
    # the standard error of a mean of 200,000 draws is sd / 447: allow 5 of them
    assert ((draws.mean(0) - mixture.mean).abs() < 5 * mixture.variance.sqrt() / 447).all()
    assert ((draws.var(0) / mixture.variance - 1).abs() < 0.02).all()


def test_a_plate_broadcasts_it_to_one_score_per_example():
    mixture = DiagonalNormalMixture(*_parameters(torch.float32))
    z = torch.randn(9, 6)

    def model() -> None:
        with pyro.plate("data", 9):
            pyro.sample("z", mixture, obs=z)

    site = pyro.poutine.trace(model).get_trace().nodes["z"]
    assert site["fn"].batch_shape == (9,)
    torch.testing.assert_close(site["fn"].log_prob(z), mixture.log_prob(z))
    assert mixture.expand((3, 9)).sample((2,)).shape == (2, 3, 9, 6)


@pytest.mark.parametrize(
    "shapes",
    [((4,), (4, 2), (4, 3)), ((4, 1), (4, 2), (4, 2)), ((3,), (4, 2), (4, 2))],
    ids=["scales-differ", "logits-not-a-vector", "component-counts-differ"],
)
def test_mismatched_shapes_are_refused_with_the_expected_ones(shapes):
    logits, locs, scales = (torch.ones(shape) for shape in shapes)
    with pytest.raises(ValueError, match=r"logits of shape \(K,\) and locs and scales of shape \(K, d\)"):
        DiagonalNormalMixture(logits, locs, scales)
