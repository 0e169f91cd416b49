"""Ada-GVAE (Locatello et al. 2020): the per-dimension KL, the adaptive threshold, and the kind end to end."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import pyro
import pytest
import torch
from pyro import poutine
from pyro_vae.guides.ada_gvae import adaptive_share, normal_kl_per_dim
from pyro_vae.guides.vae import VAEGuide
from pyro_vae.models.vae import VAEModel
from small_shapes import small_shapes

import pyro_vae
from pyro_vae.assemble import initial_vae, prepare_data
from pyro_vae.config import resolve_config
from pyro_vae.evaluation import evaluate_split
from pyro_vae.evaluation.groups import factor_gaps
from pyro_vae.vae import VAE

SHAPES = small_shapes(model__kind="ada_gvae", model__z_dim=4, data__groups="pairs")


def test_the_per_dimension_kl_is_the_normal_kl():
    torch.manual_seed(0)
    loc, other = torch.randn(2, 5, 3)
    scale, other_scale = torch.rand(2, 5, 3) + 0.2
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(loc, scale), torch.distributions.Normal(other, other_scale)
    )
    torch.testing.assert_close(normal_kl_per_dim(loc, scale, other, other_scale), expected)


@pytest.mark.parametrize("pooling", ["average", "product"])
def test_dimensions_below_the_adaptive_threshold_share_the_pooled_posterior(pooling):
    # dims 0 and 1 nearly agree, dim 2 disagrees: KLs ~0, ~0.005 and 12.5; threshold ~6.25
    loc = torch.tensor([[[0.0, 1.0, -2.0], [0.0, 1.1, 3.0]]])
    scale = torch.tensor([[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]])
    new_loc, new_scale, shared = adaptive_share(loc, scale, pooling)
    assert shared.tolist() == [[True, True, False]]
    assert new_loc[0, :, 0].tolist() == [0.0, 0.0]
    assert new_loc[0, 0, 1] == new_loc[0, 1, 1] == pytest.approx(1.05)
    assert new_loc[0, :, 2].tolist() == [-2.0, 3.0]  # kept apart
    expected_scale = 1.0 if pooling == "average" else math.sqrt(0.5)
    assert new_scale[0, :, :2].flatten().tolist() == pytest.approx([expected_scale] * 4)
    assert new_scale[0, :, 2].tolist() == [1.0, 1.0]


@pytest.fixture(scope="module")
def built():
    config = resolve_config(None, **SHAPES)
    data = prepare_data(config)
    return config, data, initial_vae(config, data)


def test_pairs_are_sampled_in_nested_plates_and_single_examples_are_scored_by_the_plain_vae(built):
    config, data, vae = built
    x, _ = next(iter(vae.training_batches(data.train, config, torch.Generator().manual_seed(0), False)))
    assert x.shape == (16, 2, 1, 12, 12) and vae.examples_in(x) == 32
    trace = poutine.trace(vae.guide).get_trace(x)
    assert trace.nodes["z"]["value"].shape == (16, 2, 4)
    model, guide = vae.scoring_programs()
    assert type(model) is VAEModel and type(guide) is VAEGuide
    plain = VAE(model, guide)
    ours = evaluate_split(vae, data.test, samples=5, batch_size=50, seed=3)
    theirs = evaluate_split(plain, data.test, samples=5, batch_size=50, seed=3)
    assert ours.elbo == theirs.elbo and ours.log_likelihood == theirs.log_likelihood


def test_the_pair_loss_uses_the_shared_posteriors(built):
    config, data, vae = built
    x, _ = next(iter(vae.training_batches(data.train, config, torch.Generator().manual_seed(1), False)))
    loc, scale, shared = vae.guide.pair_posteriors(x)
    # the dimension of largest KL is never shared; the one of smallest KL is, unless all KLs are equal
    # (a pair of one image twice: nothing to share, both posteriors are the same already)
    delta = normal_kl_per_dim(*(t.unsqueeze(1) for t in (loc[:, 0], scale[:, 0], loc[:, 1], scale[:, 1])))
    assert (~shared).any(-1).all()
    assert shared.any(-1)[delta.squeeze(1).max(-1).values > delta.squeeze(1).min(-1).values + 1e-6].all()
    both = shared.unsqueeze(1).expand_as(loc)
    assert torch.equal(loc[:, 0][shared], loc[:, 1][shared])
    assert both.sum() == 2 * shared.sum()
    pyro.set_rng_seed(0)
    assert math.isfinite(pyro.infer.Trace_ELBO(max_plate_nesting=2).loss(vae.model, vae.guide, x))


@pytest.mark.parametrize(
    "grouping",
    [{"data.groups": "pairs"}, {"data.groups": "label", "data.group_factor": 0, "data.group_size": 2}],
    ids=["pairs-sharing-factors", "pairs-sharing-a-label"],
)
def test_ada_gvae_fits_and_reports_disentanglement(tmp_path, grouping):
    result = pyro_vae.fit(**{**SHAPES, **grouping}, out=tmp_path / "run", progress=False)
    assert math.isfinite(result.summary["test_elbo"])
    assert 0 <= result.summary["mig"] <= 1 and 0 <= result.summary["dci_disentanglement"] <= 1
    assert (tmp_path / "run" / "traversals.png").is_file()
    gaps = factor_gaps(result.vae, result.data)  # one per factor; the summary's MIG is their mean
    assert len(gaps) == result.data.test.labels.shape[-1]
    assert result.summary["mig"] == pytest.approx(sum(gaps) / len(gaps))
    unlabelled = replace(result.data, test=replace(result.data.test, labels=None))
    with pytest.raises(ValueError, match="factor_gaps needs factor labels"):
        factor_gaps(result.vae, unlabelled)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"data.groups": "label", "data.group_size": 3},
            "model kind 'ada_gvae' compares pairs: set data.group_size = 2",
        ),
        ({"model.prior": "bernoulli"}, "model kind 'ada_gvae' compares Gaussian posteriors"),
        ({"model.pooling": "median"}, "model.pooling must be one of product, average, got 'median'"),
        ({"train.estimator": "iwae"}, "estimator 'iwae' "),
        ({"model.s_dim": 2}, "model.s_dim applies to model kind 'group_vae' only, not 'ada_gvae'"),
    ],
    ids=["groups-of-three", "binary-prior", "unknown-pooling", "one-plate-estimator", "group-vae-option"],
)
def test_bad_ada_gvae_settings_are_refused_before_the_run_directory(tmp_path, overrides, message):
    with pytest.raises(pyro_vae.PyroVAEError, match=re.escape(message)):
        pyro_vae.fit(**{**SHAPES, **overrides}, out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
