"""Every registered prior x likelihood x network builds, samples and gives a finite ELBO."""

from __future__ import annotations

import pytest
import torch

from pyro_vae._pyro import local_params
from pyro_vae.config import ModelConfig
from pyro_vae.errors import ConfigError
from pyro_vae.estimators import ESTIMATORS
from pyro_vae.evaluation import log_importance_weights
from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.networks import NETWORKS
from pyro_vae.priors import PRIORS
from pyro_vae.registry import Registry
from pyro_vae.vae import build_vae

EVENT = (1, 5, 7)  # odd sizes on purpose: nothing may assume square or even images
BATCH = 4


def data_for(likelihood: str, generator: torch.Generator) -> torch.Tensor:
    """A batch inside ``likelihood``'s support."""
    shape = (BATCH, *EVENT)
    if likelihood == "bernoulli":
        return torch.bernoulli(torch.full(shape, 0.3), generator=generator)
    if likelihood == "continuous_bernoulli":
        return torch.rand(shape, generator=generator)
    if likelihood in ("poisson", "categorical256"):
        return torch.randint(0, 256, shape, generator=generator).float()
    return torch.randn(shape, generator=generator)


PAIRS = [(p, lik) for p in PRIORS.names() for lik in LIKELIHOODS.names()]


def test_the_issue_s_components_are_registered():
    assert {"normal", "learned_normal", "laplace", "mixture"} <= set(PRIORS.names())
    expected = {"bernoulli", "continuous_bernoulli", "normal", "laplace", "poisson", "categorical256"}
    assert expected <= set(LIKELIHOODS.names())
    assert {"mlp", "conv"} <= set(NETWORKS.names())
    assert {"trace", "meanfield"} <= set(ESTIMATORS.names())


@pytest.mark.parametrize("network", ["mlp", "conv"])
@pytest.mark.parametrize(("prior", "likelihood"), PAIRS, ids=[f"{p}-{lik}" for p, lik in PAIRS])
def test_every_prior_and_likelihood_builds_samples_and_has_a_finite_elbo(prior, likelihood, network):
    vae = build_vae(ModelConfig(z_dim=3, prior=prior, likelihood=likelihood, network=network), EVENT)
    x = data_for(likelihood, torch.Generator().manual_seed(0))
    vae.likelihood.check_support(x)

    samples = vae.sample(5)
    assert samples.shape == (5, *EVENT)
    assert torch.isfinite(samples).all()
    assert vae.reconstruct(x).shape == x.shape

    log_w = log_importance_weights(vae.model, vae.guide, x, num_samples=6)
    assert log_w.shape == (6, BATCH)
    assert torch.isfinite(log_w).all()

    with local_params():
        loss = ESTIMATORS.build("trace", max_plate_nesting=1)(vae.model, vae.guide)(x)
    assert loss.shape == ()
    assert torch.isfinite(loss)
    loss.backward()
    # a Bernoulli guide's baseline network serves score-function estimators ('graph') only
    grads = {n: p.grad for n, p in vae.named_parameters() if p.requires_grad and ".baseline." not in n}
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads.values()), grads.keys()


@pytest.mark.parametrize("estimator", ["trace", "meanfield"])
@pytest.mark.parametrize("prior", PRIORS.names())
def test_estimators_accept_every_prior_with_vectorized_particles(prior, estimator):
    vae = build_vae(ModelConfig(z_dim=2, prior=prior, likelihood="bernoulli"), (10,))
    x = torch.bernoulli(torch.full((8, 10), 0.5))
    spec = {"name": estimator, "num_particles": 3}
    loss_module = ESTIMATORS.build(spec, max_plate_nesting=1)(vae.model, vae.guide)
    if estimator == "meanfield" and vae.prior.guide_family == "bernoulli":
        with local_params(), pytest.raises(ConfigError, match=r"needs reparameterized guide sites.*'graph'"):
            loss_module(x)
        return
    with local_params():
        loss = loss_module(x)
    assert torch.isfinite(loss)


@pytest.mark.parametrize(
    "event_shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8), (2, 9, 13), (1, 1, 1)], ids=lambda s: "x".join(map(str, s))
)
def test_conv_networks_are_sized_from_the_image_shape(event_shape):
    nets = NETWORKS.build("conv", event_shape=event_shape, z_dim=4, params_per_dim=2, encoder_out=8)
    x = torch.zeros(3, *event_shape)
    assert nets.encoder(x).shape == (3, 8)
    assert nets.decoder(torch.zeros(5, 3, 4)).shape == (5, 3, 2, *event_shape)


@pytest.mark.parametrize("event_shape", [(64,), (1, 8, 8), (3, 4, 5)], ids=["vector", "grey", "colour"])
def test_mlp_networks_are_sized_from_the_data_shape(event_shape):
    nets = NETWORKS.build(
        {"name": "mlp", "hidden": [16]}, event_shape=event_shape, z_dim=2, params_per_dim=1, encoder_out=4
    )
    assert nets.encoder(torch.zeros(7, *event_shape)).shape == (7, 4)
    assert nets.decoder(torch.zeros(2, 7, 2)).shape == (2, 7, 1, *event_shape)


def test_conv_on_vector_data_says_to_use_mlp():
    with pytest.raises(ConfigError, match="use network 'mlp'"):
        build_vae(ModelConfig(network="conv"), (64,))


@pytest.mark.parametrize(
    ("registry", "bad", "listed"),
    [
        (PRIORS, "gaussian", "laplace, learned_normal, mixture, normal"),
        (LIKELIHOODS, "bernouli", "did you mean 'bernoulli'"),
        (NETWORKS, "cnn", "conv, mlp"),
        (ESTIMATORS, "elbo", "meanfield"),
    ],
    ids=["prior", "likelihood", "network", "estimator"],
)
def test_unknown_names_fail_with_the_valid_list(registry: Registry, bad, listed):
    with pytest.raises(ConfigError, match=f"unknown {registry.kind} '{bad}'") as info:
        registry.check(bad)
    assert listed in str(info.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "mixture", "componets": 3}, "did you mean 'components'"),
        ({"name": "mixture", "components": 0}, "components' must be a positive integer"),
        ({"name": "mixture", "components": 2.5}, "components' must be a positive integer"),
        ({"name": "laplace", "scale": -1}, "scale' must be a positive number"),
        ({"components": 3}, "has no 'name'"),
        (3, "must be a name or a table"),
    ],
    ids=["misspelled-option", "zero-components", "fractional-components", "negative-scale", "no-name", "not-a-spec"],
)
def test_bad_prior_options_are_clear_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        PRIORS.build(spec, z_dim=2)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "normal", "scale": 0}, "'scale' must be a positive number"),
        ({"name": "mlp", "hidden": [0]}, "list of positive integers"),
        ({"name": "mlp", "activation": "swishy"}, "valid activations"),
        ({"name": "conv", "channels": []}, "non-empty list"),
    ],
    ids=["likelihood-scale", "mlp-hidden", "activation", "conv-channels"],
)
def test_bad_likelihood_and_network_options_are_clear_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        if spec["name"] == "normal":
            LIKELIHOODS.build(spec, event_shape=(4,))
        else:
            NETWORKS.build(spec, event_shape=(1, 8, 8), z_dim=2, params_per_dim=1, encoder_out=4)


def test_learned_parameters_of_priors_and_likelihoods_are_trained():
    vae = build_vae(ModelConfig(z_dim=2, prior="mixture", likelihood="normal"), (5,))
    names = {name for name, _ in vae.named_parameters()}
    assert any(name.startswith("model.prior.") for name in names)
    assert "model.likelihood.raw_scale" in names


def test_two_vaes_in_one_process_do_not_share_parameters():
    a = build_vae(ModelConfig(z_dim=2, prior="learned_normal"), (5,))
    b = build_vae(ModelConfig(z_dim=2, prior="learned_normal"), (5,))
    x = torch.bernoulli(torch.full((4, 5), 0.5))
    with torch.no_grad():
        a.model.prior.loc_unconstrained.fill_(3.0)
    log_importance_weights(a.model, a.guide, x, 2)
    log_importance_weights(b.model, b.guide, x, 2)
    assert torch.all(b.model.prior.loc_unconstrained == 0)
    assert torch.all(a.model.prior.loc_unconstrained == 3)
