"""The beta-VAE weight (``model.beta``, Higgins et al. 2017): the KL terms weighed in training, apart from warm-up."""

from __future__ import annotations

import re

import pytest
import torch

import pyro_vae
from pyro_vae.assemble import initial_vae, prepare_data
from pyro_vae.config import resolve_config

TINY = {"data.limit": 120, "model.network": {"name": "mlp", "hidden": [16]}, "train.epochs": 2, "eval.samples": 4}


def test_beta_scales_the_kl_weight_of_every_step_and_multiplies_the_warm_up():
    plain = pyro_vae.fit(**TINY, progress=False)
    beta = pyro_vae.fit(**TINY, **{"model.beta": 4.0}, progress=False)
    warm = pyro_vae.fit(**TINY, **{"model.beta": 4.0, "train.kl_warmup_epochs": 2.0}, progress=False)
    assert [row["kl_weight"] for row in plain.history] == [1.0, 1.0]
    assert [row["kl_weight"] for row in beta.history] == [4.0, 4.0]
    # linear warm-up over 2 epochs of one batch each reaches 1/2 then 1, times beta
    assert [row["kl_weight"] for row in warm.history] == pytest.approx([2.0, 4.0])
    # training optimises another objective; evaluation still reports the ELBO of each model
    assert beta.history[0]["train_elbo"] != plain.history[0]["train_elbo"]
    assert beta.summary["test_log_likelihood"] >= beta.summary["test_elbo"]


def test_the_loss_under_beta_is_the_likelihood_plus_beta_times_the_latent_terms():
    config = resolve_config(None, **TINY, **{"model.beta": 3.0, "model.z_dim": 2})
    vae = initial_vae(config, prepare_data(config))
    x = (prepare_data(config).train.x[:8] > 0.5).float()  # binary pixels for the Bernoulli likelihood
    posterior = vae.guide.posteriors(x)["z"]
    torch.manual_seed(0)
    z = posterior.rsample()
    fit = vae.likelihood.distribution(vae.model.decoder(z)).log_prob(x)
    latent = vae.model.prior().log_prob(z) - posterior.log_prob(z)
    from pyro_vae.estimators import direct_log_weights

    torch.manual_seed(0)
    weights = direct_log_weights(vae.model, vae.guide, x, kl_weight=vae.beta)
    torch.testing.assert_close(weights, fit + 3.0 * latent)


@pytest.mark.parametrize("value", [0, -1.0, float("inf"), "big"], ids=["zero", "negative", "infinite", "text"])
def test_a_beta_that_is_not_a_positive_number_is_refused_before_the_run_directory(tmp_path, value):
    with pytest.raises(pyro_vae.ConfigError, match=re.escape("model.beta must be a positive number")):
        pyro_vae.fit(**TINY, **{"model.beta": value}, out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_beta_belongs_to_the_plain_and_group_kinds_not_the_semi_supervised_one():
    with pytest.raises(
        pyro_vae.ConfigError,
        match=r"model\.beta applies to model kind 'ada_gvae' or 'group_vae' or 'program' or 'vae' only, not 'ss_vae'",
    ):
        resolve_config(None, **{"model.kind": "ss_vae", "model.beta": 2.0})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model.beta": 4.0}, "estimator 'jit_trace' compiles the loss with a KL weight of 1, but model.beta = 4.0"),
        ({"train.kl_warmup_epochs": 2.0}, "estimator 'jit_trace' compiles the loss once and cannot follow"),
    ],
    ids=["beta", "warm-up"],
)
def test_compiled_estimators_refuse_a_kl_weight_other_than_one_when_the_config_is_read(overrides, message):
    with pytest.raises(pyro_vae.ConfigError, match=re.escape(message)):
        resolve_config(None, **{"train.estimator": "jit_trace", **overrides})
