"""Binary latent codes: exact bounds by enumeration, unbiased gradients, relaxation, mixed latents, VampPrior.

With a few bits, ``log p(x) = logsumexp_z [log p(z) + log p(x | z)]`` is a
finite sum and the ELBO ``sum_z q(z | x) [log p(x, z) - log q(z | x)]`` too,
so every bound and every gradient estimator can be checked against exact
numbers computed here by hand from the decoder and encoder weights.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import pyro_vae
from pyro_vae._pyro import local_params
from pyro_vae.config import ModelConfig
from pyro_vae.distributions import BernoulliCode
from pyro_vae.errors import ConfigError
from pyro_vae.estimators import ESTIMATORS
from pyro_vae.evaluation import iwae_bound, log_importance_weights
from pyro_vae.vae import VAE, build_vae

BITS, D, SCALE = 3, 4, 0.8


def tiny_vae(bits: int = BITS, prior: object = "bernoulli", seed: int = 0) -> VAE:
    """Linear encoder and decoder, fixed-scale Normal likelihood, float64."""
    torch.manual_seed(seed)
    config = ModelConfig(
        z_dim=bits,
        prior=prior,
        likelihood={"name": "normal", "scale": SCALE, "learn_scale": False},
        network={"name": "mlp", "hidden": []},
    )
    return build_vae(config, (D,)).double()


def tiny_data(n: int = 5) -> torch.Tensor:
    return torch.randn(n, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def codes(bits: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=bits)), dtype=torch.float64)


def log_joint(vae: VAE, x: torch.Tensor) -> torch.Tensor:
    """``log p(x_n, z_c)`` for every code ``c``, shape ``(2**k, B)``, from the weights."""
    (layer,) = vae.model.decoder.net
    z = codes(vae.z_dim)
    mean = z @ layer.weight.T + layer.bias  # (C, D)
    log_lik = (-0.5 * math.log(2 * math.pi * SCALE**2) - (x[None] - mean[:, None]) ** 2 / (2 * SCALE**2)).sum(-1)
    prior_logits = vae.prior.logits
    log_prior = (z * prior_logits - torch.nn.functional.softplus(prior_logits)).sum(-1)
    return log_lik + log_prior[:, None]


def log_q(vae: VAE, x: torch.Tensor) -> torch.Tensor:
    """``log q(z_c | x_n)``, shape ``(2**k, B)``, from the encoder weights."""
    (layer,) = vae.guide.encoder.net
    logits = x @ layer.weight.T + layer.bias  # (B, k)
    z = codes(vae.z_dim)
    return (z[:, None] * logits[None] - torch.nn.functional.softplus(logits)[None]).sum(-1)


def exact_log_px(vae: VAE, x: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(log_joint(vae, x), 0)


def exact_elbo(vae: VAE, x: torch.Tensor) -> torch.Tensor:
    lq = log_q(vae, x)
    return (lq.exp() * (log_joint(vae, x) - lq)).sum(0)


def loss_of(vae: VAE, spec: object, x: torch.Tensor) -> torch.Tensor:
    with local_params():
        return ESTIMATORS.build(spec, max_plate_nesting=1)(vae.model, vae.guide)(x)


def test_bernoulli_code_enumerates_every_code_with_probabilities_summing_to_one():
    q = BernoulliCode(torch.randn(2, 3, dtype=torch.float64))
    support = q.enumerate_support(expand=False)
    assert support.shape == (8, 1, 3)
    assert {tuple(c) for c in support[:, 0].tolist()} == {tuple(c) for c in codes(3).tolist()}
    torch.testing.assert_close(q.log_prob(support).exp().sum(0), torch.ones(2, dtype=torch.float64))
    entropy = -(q.log_prob(support).exp() * q.log_prob(support)).sum(0)
    torch.testing.assert_close(entropy, q.entropy())


def test_enumerated_elbo_is_exact_and_below_log_px():
    vae, x = tiny_vae(), tiny_data()
    exact = exact_elbo(vae, x)
    # nothing is sampled: the enum estimator sums over all 2**3 codes of q
    # (to float32 rounding of the likelihood's fixed scale)
    assert -loss_of(vae, "enum", x).item() == pytest.approx(exact.sum().item(), abs=1e-5)
    log_px = exact_log_px(vae, x)
    assert (exact < log_px - 1e-3).all()
    # the gap is KL(q(z|x) || p(z|x)), computed separately
    lq, log_post = log_q(vae, x), log_joint(vae, x) - log_px
    torch.testing.assert_close(log_px - exact, (lq.exp() * (lq - log_post)).sum(0))


def fit_guide(vae: VAE, x: torch.Tensor, steps: int = 300) -> None:
    """Fit the guide alone (exact enumerated or reparameterised ELBO) so importance weights are well behaved."""
    optimizer = torch.optim.Adam(vae.guide.encoder.parameters(), lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_of(vae, "enum", x).backward()
        optimizer.step()


def test_importance_sampled_log_likelihood_approaches_the_exact_sum():
    vae, x = tiny_vae(), tiny_data()
    fit_guide(vae, x)
    log_px = exact_log_px(vae, x)
    torch.manual_seed(0)
    one = iwae_bound(log_importance_weights(vae.model, vae.guide, x, num_samples=1)).double()
    many = iwae_bound(log_importance_weights(vae.model, vae.guide, x, num_samples=20000)).double()
    assert (many - log_px).abs().max() < 0.01
    # a single draw is the ELBO in expectation: far looser than 20000 draws
    assert (log_px - many).abs().mean() < (log_px - one).abs().mean()


def _grads(vae: VAE, spec: object, x: torch.Tensor) -> torch.Tensor:
    vae.zero_grad()
    loss_of(vae, spec, x).backward()
    return torch.cat([p.grad.flatten() for n, p in vae.named_parameters() if ".baseline." not in n])


UNBIASED = [
    ("trace", "trace"),
    ({"name": "graph", "baseline": "none"}, "graph-no-baseline"),
    ({"name": "graph", "baseline": "decaying"}, "graph-decaying"),
    ({"name": "graph", "baseline": "learned"}, "graph-learned"),
]


@pytest.mark.parametrize("spec", [s for s, _ in UNBIASED], ids=[i for _, i in UNBIASED])
def test_score_function_gradients_are_unbiased_for_the_enumerated_gradient(spec):
    vae, x = tiny_vae(), tiny_data()
    exact = _grads(vae, "enum", x)
    torch.manual_seed(0)
    estimates = torch.stack([_grads(vae, spec, x) for _ in range(400)])
    mean, se = estimates.mean(0), estimates.std(0) / math.sqrt(len(estimates))
    z_scores = (mean - exact) / (se + 1e-12)
    assert z_scores.abs().max() < 4.5, z_scores
    assert estimates.std(0).max() > 1e-3  # they are Monte Carlo estimates, not the exact sum


def test_baselines_reduce_the_variance_of_the_encoder_gradient():
    vae, x = tiny_vae(), tiny_data()
    (layer,) = vae.guide.encoder.net
    variance = {}
    for baseline in ("none", "decaying"):
        torch.manual_seed(0)
        spec = {"name": "graph", "baseline": baseline}
        loss_module = ESTIMATORS.build(spec, max_plate_nesting=1)(vae.model, vae.guide)
        draws = []
        for _ in range(200):
            vae.zero_grad()
            with local_params():
                loss_module(x).backward()
            draws.append(layer.weight.grad.flatten().clone())
        variance[baseline] = torch.stack(draws).var(0).sum().item()
    assert variance["decaying"] < 0.7 * variance["none"], variance


def test_relaxed_gradients_follow_the_enumerated_gradient_and_evaluation_stays_discrete():
    vae, x = tiny_vae(), tiny_data()
    exact = _grads(vae, "enum", x)
    torch.manual_seed(0)
    spec = {"name": "relaxed", "temperature": 0.5, "anneal_rate": 0.0}
    relaxed = torch.stack([_grads(vae, spec, x) for _ in range(400)]).mean(0)
    # a biased estimator (of the relaxed bound's gradient), but pointing the same way
    assert torch.nn.functional.cosine_similarity(relaxed, exact, dim=0) > 0.9
    log_w = log_importance_weights(vae.model, vae.guide, x, num_samples=50)
    assert set(torch.unique(vae.guide.posteriors(x)["z"].sample()).tolist()) <= {0.0, 1.0}
    assert torch.isfinite(log_w).all()


def test_relaxed_temperature_decays_to_its_floor():
    elbo = ESTIMATORS.build(
        {"name": "relaxed", "temperature": 2.0, "min_temperature": 0.5, "anneal_rate": 0.1}, max_plate_nesting=1
    )
    vae, x = tiny_vae(), tiny_data()
    module = elbo(vae.model, vae.guide)
    temperatures = []
    for _ in range(30):
        temperatures.append(elbo.temperature)
        with local_params():
            module(x).backward()
    assert temperatures[0] == 2.0 and temperatures[5] == pytest.approx(2.0 * math.exp(-0.5))
    assert temperatures[-1] == 0.5 and all(a >= b for a, b in itertools.pairwise(temperatures))


def test_straight_through_decoder_sees_hard_bits():
    vae, x = tiny_vae(), tiny_data()
    seen = []
    decoder_forward = vae.model.decoder.forward
    vae.model.decoder.forward = lambda z: seen.append(z.detach().clone()) or decoder_forward(z)
    loss_of(vae, {"name": "relaxed", "straight_through": True}, x).backward()
    assert set(torch.unique(seen[0]).tolist()) <= {0.0, 1.0}
    loss_of(vae, {"name": "relaxed", "straight_through": False}, x)
    assert not set(torch.unique(seen[1]).tolist()) <= {0.0, 1.0}
    assert vae.guide.encoder.net[0].weight.grad.abs().sum() > 0


def test_enumeration_is_refused_above_max_bits_and_allowed_when_raised():
    vae, x = tiny_vae(bits=4), tiny_data()
    with pytest.raises(
        ConfigError, match=r"2\*\*4 codes of site 'z', above its max_bits = 3.*'graph' or 'relaxed'"
    ) as info:
        loss_of(vae, {"name": "enum", "max_bits": 3}, x)
    assert "Trace Shapes" not in str(info.value)  # our words only, not Pyro's trace dump
    assert torch.isfinite(loss_of(vae, {"name": "enum", "max_bits": 4}, x))


def test_bad_options_of_binary_parts_are_clear_errors():
    with pytest.raises(ConfigError, match=r"'probs' must be a number in \(0, 1\)"):
        tiny_vae(prior={"name": "bernoulli", "probs": 1.5})
    with pytest.raises(ConfigError, match="option 'baseline' must be one of decaying, learned, none"):
        ESTIMATORS.build({"name": "graph", "baseline": "average"}, max_plate_nesting=1)
    with pytest.raises(ConfigError, match="option 'min_temperature' must be a positive number"):
        ESTIMATORS.build({"name": "relaxed", "min_temperature": 0}, max_plate_nesting=1)
    with pytest.raises(ConfigError, match="must not exceed temperature"):
        ESTIMATORS.build({"name": "relaxed", "temperature": 0.5, "min_temperature": 1.0}, max_plate_nesting=1)
    with pytest.raises(ConfigError, match=r"model\.bits_prior must be a prior over bits"):
        build_vae(ModelConfig(z_dim=2, bits=3, bits_prior="normal"), (D,))
    for estimator in ("dreg", "meanfield", "jit_meanfield"):
        with pytest.raises(ConfigError, match=f"estimator '{estimator}' needs reparameterized guide sites"):
            loss_of(tiny_vae().float(), estimator, tiny_data().float())
    with pytest.raises(ConfigError, match="model kind 'ss_vae' needs a continuous prior"):
        pyro_vae.fit(kind="ss_vae", prior="bernoulli", epochs=1)


def test_learned_bernoulli_prior_probabilities_are_parameters():
    fixed = tiny_vae()
    learned = tiny_vae(prior={"name": "bernoulli", "probs": 0.2, "learn": True})
    assert not any("prior" in name for name, _ in fixed.named_parameters())
    (name, logits), *_ = learned.named_parameters()
    assert name.startswith("model.prior.logits")
    torch.testing.assert_close(learned.prior.logits.sigmoid(), torch.full((BITS,), 0.2, dtype=torch.float64))
    loss_of(learned, "enum", tiny_data()).backward()
    assert logits.grad.abs().sum() > 0


# -- mixed latents: a Gaussian block z and a binary block of bits ------------------------------------


def mixed_vae() -> VAE:
    torch.manual_seed(0)
    config = ModelConfig(
        z_dim=2,
        bits=2,
        likelihood={"name": "normal", "scale": SCALE, "learn_scale": False},
        network={"name": "mlp", "hidden": []},
    )
    return build_vae(config, (D,)).double()


def mixed_exact_log_px(vae: VAE, x: torch.Tensor) -> torch.Tensor:
    """``x = W z + V b + c + noise`` with ``z ~ N(0, I)``: ``p(x | b) = N(V b + c, W W^T + s^2 I)``, summed over b."""
    (layer,) = vae.model.decoder.net
    w, v = layer.weight[:, :2], layer.weight[:, 2:]
    cov = w @ w.T + SCALE**2 * torch.eye(D, dtype=torch.float64)
    b = codes(2)
    terms = torch.stack(
        [
            torch.distributions.MultivariateNormal(v @ code + layer.bias, cov).log_prob(x) + 2 * math.log(0.5)
            for code in b
        ]
    )
    return torch.logsumexp(terms, 0)


def test_mixed_model_bounds_sandwich_the_exact_log_likelihood():
    vae, x = mixed_vae(), tiny_data()
    assert vae.z_dim == 4 and vae.has_discrete_latents()
    fit_guide(vae, x)
    log_px = mixed_exact_log_px(vae, x)
    torch.manual_seed(0)
    many = iwae_bound(log_importance_weights(vae.model, vae.guide, x, num_samples=20000)).double()
    assert (many - log_px).abs().max() < 0.05
    # the bits summed exactly, z sampled: the ELBO, whose mean over draws stays below log p(x)
    elbo = -torch.stack([loss_of(vae, {"name": "enum", "num_particles": 200}, x) for _ in range(5)]).mean()
    trace = -torch.stack([loss_of(vae, {"name": "trace", "num_particles": 200}, x) for _ in range(5)]).mean()
    assert elbo.item() < log_px.sum().item()
    assert elbo.item() == pytest.approx(trace.item(), abs=0.05 * abs(elbo.item()))


def test_mixed_model_trains_on_digits_with_each_binary_estimator():
    for estimator in ("graph", "relaxed", "enum"):
        result = pyro_vae.fit(
            z_dim=4, bits=4, epochs=2, estimator=estimator, eval={"samples": 10}, pictures=False, patience=0
        )
        history = [row["val_elbo"] for row in result.history]
        assert history[-1] > history[0], (estimator, history)
        assert result.vae.sample(3).shape == (3, 1, 8, 8)


# -- VampPrior -------------------------------------------------------------------------------------------


def test_vamp_prior_is_the_average_of_the_guide_at_its_pseudo_inputs():
    vae = tiny_vae(bits=2, prior={"name": "vamp", "components": 7})
    prior = vae.prior
    z = torch.randn(5, 2, dtype=torch.float64)
    q = vae.guide.posteriors(prior.pseudo_inputs)["z"]  # batch (7,)
    expected = torch.logsumexp(q.log_prob(z[:, None]), -1) - math.log(7)
    torch.testing.assert_close(prior().log_prob(z), expected)
    loss_of(vae, "trace", tiny_data()).backward()
    assert prior.pseudo_inputs.grad.abs().sum() > 0
    # the prior shares the guide's encoder instead of copying it
    assert not any("prior" in name and "encoder" in name for name, _ in vae.named_parameters())


def test_vamp_prior_run_reloads_with_the_same_prior(tmp_path):
    result = pyro_vae.fit(
        prior={"name": "vamp", "components": 10}, z_dim=2, epochs=2, out=tmp_path / "run", eval={"samples": 10}
    )
    vae, _ = pyro_vae.load_run(tmp_path / "run")
    z = torch.randn(6, 2)
    torch.testing.assert_close(vae.prior().log_prob(z), result.vae.prior().log_prob(z))
