"""The group VAE's programs: nested plates, the content pooling rules, and the ELBO of a linear-Gaussian group model.

Linear-Gaussian group model: ``s_g ~ N(0, I)``, ``z_gi ~ N(0, I)``,
``x_gi ~ N(A s_g + C z_gi + b, sigma^2 I)``. Its evidence is Gaussian in closed
form (members correlated through ``A A^T``), and so is the ELBO of any
diagonal Gaussian guide, which the Pyro programs must reproduce.
"""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from pyro_vae.guides.group_vae import CONTENT_POOLING, GroupVAEGuide, average_pool, product_of_gaussians
from pyro_vae.models.group_vae import GroupVAEModel
from small_shapes import small_shapes
from torch import nn

from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.priors import PRIORS

S_DIM, Z_DIM, D, SIGMA = 2, 3, 6, 0.7


class _Linear(nn.Module):
    """``code -> (W code + b)`` with the likelihood's parameter axis added."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight, self.bias = nn.Parameter(weight), nn.Parameter(bias)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return (code @ self.weight.T + self.bias).unsqueeze(-2)


def _programs(seed: int = 0, pooling: str = "product"):
    torch.manual_seed(seed)
    decoder = _Linear(torch.randn(D, S_DIM + Z_DIM, dtype=torch.float64), torch.randn(D, dtype=torch.float64))
    likelihood = LIKELIHOODS.build({"name": "normal", "scale": SIGMA, "learn_scale": False}, event_shape=(D,))
    model = GroupVAEModel(
        PRIORS.build("normal", z_dim=S_DIM), PRIORS.build("normal", z_dim=Z_DIM), decoder, likelihood
    ).double()
    encoder = nn.Linear(D, 2 * (S_DIM + Z_DIM)).double()
    with torch.no_grad():  # moderate posterior scales (softplus(-1.5) = 0.2) keep the Monte Carlo error small
        encoder.weight.mul_(0.3)
        encoder.bias[S_DIM : 2 * S_DIM] = -1.5
        encoder.bias[2 * S_DIM + Z_DIM :] = -1.5
    return model, GroupVAEGuide(encoder, S_DIM, Z_DIM, pooling).double()


def _kl_to_standard(loc: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    return 0.5 * (var + loc**2 - 1 - var.log()).sum(-1)


def _closed_form_elbo(model: GroupVAEModel, guide: GroupVAEGuide, x: torch.Tensor) -> torch.Tensor:
    """The ELBO of every group, ``(B,)``, by hand: Gaussian expectations of a linear model."""
    weight, bias = model.decoder.weight, model.decoder.bias
    a, c = weight[:, :S_DIM], weight[:, S_DIM:]
    s_loc, s_scale, z_loc, z_scale = guide.members(x)
    m_s, sd_s = CONTENT_POOLING[guide.pooling](s_loc, s_scale)
    v_s, v_z = sd_s**2, z_scale**2
    mean = m_s.unsqueeze(-2) @ a.T + z_loc @ c.T + bias
    fit = dist.Normal(mean, SIGMA).log_prob(x).sum(-1)
    spread = ((a**2) @ v_s.unsqueeze(-1)).squeeze(-1).sum(-1, keepdim=True) + (v_z @ (c**2).T).sum(-1)
    expected = (fit - spread / (2 * SIGMA**2)).sum(-1)
    return expected - _kl_to_standard(m_s, v_s) - _kl_to_standard(z_loc, v_z).sum(-1)


def _evidence(model: GroupVAEModel, x: torch.Tensor) -> torch.Tensor:
    """``log p(x_g)`` of every group, ``(B,)``: one Gaussian over the group's stacked members."""
    weight, bias = model.decoder.weight, model.decoder.bias
    a, c = weight[:, :S_DIM], weight[:, S_DIM:]
    g = x.shape[1]
    shared = torch.kron(torch.ones(g, g, dtype=x.dtype), a @ a.T)
    own = torch.kron(torch.eye(g, dtype=x.dtype), c @ c.T + SIGMA**2 * torch.eye(D, dtype=x.dtype))
    joint = dist.MultivariateNormal(bias.repeat(g), covariance_matrix=shared + own)
    return joint.log_prob(x.flatten(1))


def _groups(model: GroupVAEModel, b: int, g: int) -> torch.Tensor:
    with torch.no_grad():
        return poutine.trace(model).get_trace(torch.zeros(b, g, D, dtype=torch.float64)).nodes["x"]["fn"].sample()


def test_product_of_gaussians_multiplies_the_densities():
    loc = torch.tensor([[[0.0], [2.0]]])
    scale = torch.tensor([[[1.0], [2.0]]])
    mean, sd = product_of_gaussians(loc, scale)
    # precisions 1 and 1/4 add to 5/4; mean (0 * 1 + 2 / 4) / (5/4) = 0.4
    assert mean.item() == pytest.approx(0.4)
    assert sd.item() == pytest.approx(math.sqrt(4 / 5))
    grid = torch.linspace(-6, 8, 20001)
    product = dist.Normal(0.0, 1.0).log_prob(grid).exp() * dist.Normal(2.0, 2.0).log_prob(grid).exp()
    product /= torch.trapezoid(product, grid)
    assert torch.trapezoid(grid * product, grid).item() == pytest.approx(0.4, abs=1e-4)


def test_average_pool_averages_means_and_variances():
    mean, sd = average_pool(torch.tensor([[[0.0], [2.0]]]), torch.tensor([[[1.0], [3.0]]]))
    assert mean.item() == pytest.approx(1.0)
    assert sd.item() == pytest.approx(math.sqrt(5.0))


@pytest.mark.parametrize("pooling", sorted(CONTENT_POOLING))
def test_nested_plates_give_content_per_group_and_style_per_member(pooling):
    model, guide = _programs(pooling=pooling)
    x = _groups(model, 4, 3)
    guide_trace = poutine.trace(guide).get_trace(x)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(x)
    assert guide_trace.nodes["s"]["value"].shape == (4, 1, S_DIM)
    assert guide_trace.nodes["z"]["value"].shape == (4, 3, Z_DIM)
    model_trace.compute_log_prob()
    assert model_trace.nodes["s"]["log_prob"].shape == (4, 1)
    assert model_trace.nodes["z"]["log_prob"].shape == (4, 3)
    assert model_trace.nodes["x"]["log_prob"].shape == (4, 3)
    assert [f.name for f in model_trace.nodes["x"]["cond_indep_stack"]] == ["groups", "members"]
    assert [f.name for f in model_trace.nodes["s"]["cond_indep_stack"]] == ["groups"]


@pytest.mark.parametrize("pooling", sorted(CONTENT_POOLING))
def test_the_elbo_of_a_linear_gaussian_group_model_matches_the_closed_form(pooling):
    model, guide = _programs(seed=1, pooling=pooling)
    x = _groups(model, 5, 4)
    closed = _closed_form_elbo(model, guide, x)
    assert (closed < _evidence(model, x)).all()  # a mean-field guide is below the evidence
    pyro.set_rng_seed(0)
    elbo = pyro.infer.TraceMeanField_ELBO(num_particles=2000, vectorize_particles=True, max_plate_nesting=2)
    estimates = torch.tensor([-elbo.loss(model, guide, x) for _ in range(8)], dtype=torch.float64)
    # the KL terms are exact (mean field); the expected log-likelihood is a Monte Carlo average
    standard_error = estimates.std() / math.sqrt(len(estimates))
    assert standard_error < 1.0
    assert abs(estimates.mean() - closed.sum()) < 4 * standard_error


def test_one_member_groups_reduce_to_a_vae_with_a_joint_code():
    model, _ = _programs(seed=2)
    x = _groups(model, 6, 1)
    weight, bias = model.decoder.weight, model.decoder.bias
    plain = dist.MultivariateNormal(bias, covariance_matrix=weight @ weight.T + SIGMA**2 * torch.eye(D).double())
    torch.testing.assert_close(_evidence(model, x), plain.log_prob(x[:, 0]))


# -- the model kind ``group_vae`` -------------------------------------------------------------------------------

SHAPES = small_shapes(model__kind="group_vae", model__z_dim=2, model__s_dim=2)


@pytest.mark.parametrize(
    "grouping",
    [{"data.groups": "label", "data.group_size": 3}, {"data.groups": "pairs", "data.shared_factors": 0}],
    ids=["groups-by-label", "pairs-sharing-factors"],
)
def test_a_group_vae_fits_evaluates_and_draws_its_pictures(tmp_path, grouping):
    import pyro_vae

    result = pyro_vae.fit(**SHAPES, **grouping, out=tmp_path / "run", progress=False)
    summary = result.summary
    assert math.isfinite(summary["test_elbo"]) and summary["test_log_likelihood"] >= summary["test_elbo"]
    assert 0 <= summary["shared_factor_accuracy_s"] <= 1 and 0 <= summary["mig"] <= 1
    assert (tmp_path / "run" / "swaps.png").is_file()
    again = pyro_vae.evaluate(tmp_path / "run", samples=4)
    assert again["test_elbo"] == pytest.approx(summary["test_elbo"])


def test_training_batches_are_groups_and_the_loss_is_per_example():
    import pyro_vae
    from pyro_vae.assemble import initial_vae, prepare_data
    from pyro_vae.config import resolve_config

    config = resolve_config(None, **SHAPES, **{"data.group_size": 3})
    data = prepare_data(config)
    vae = initial_vae(config, data)
    x, labels = next(iter(vae.training_batches(data.train, config, torch.Generator().manual_seed(0), False)))
    assert x.shape == (16, 3, 1, 12, 12) and labels.shape == (16, 3)  # the shared label column (group_factor 0)
    assert (labels == labels[:, :1]).all()  # members share the shape factor
    assert vae.examples_in(x) == 48
    assert isinstance(vae, pyro_vae.VAE)


def test_scoring_one_example_is_the_group_model_with_groups_of_one():
    from pyro_vae.guides.group_vae import MemberGuide
    from pyro_vae.models.group_vae import MemberModel

    model, guide = _programs(seed=3)
    x = _groups(model, 7, 1)
    elbo = pyro.infer.Trace_ELBO(max_plate_nesting=2)
    pyro.set_rng_seed(5)
    grouped = elbo.loss(model, guide, x)
    pyro.set_rng_seed(5)
    single = elbo.loss(MemberModel(model), MemberGuide(guide), x[:, 0])
    assert single == pytest.approx(grouped, rel=1e-12)


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"data.groups": "triples"}, "ConfigError", "data.groups must be one of label, pairs, got 'triples'"),
        ({"data.group_size": 1}, "ConfigError", "data.group_size must be at least 2 (a group of one shares nothing)"),
        ({"data.group_factor": 7}, "DataError", "data.group_factor = 7 names a label column the data lacks"),
        ({"model.s_dim": 0}, "ConfigError", "model.s_dim must be a positive integer"),
        ({"model.pooling": "max"}, "ConfigError", "model.pooling must be one of product, average, got 'max'"),
        ({"model.prior": "bernoulli"}, "ConfigError", "model.prior of model kind 'group_vae' must be a continuous"),
        ({"model.sdim": 3}, "ConfigError", "unknown key in [model]: 'sdim' (did you mean 's_dim'?)"),
        (
            {"data.name": "digits", "data.groups": "pairs"},
            "DataError",
            "data.groups = 'pairs' draws pairs sharing some factors, but the labels have one column",
        ),
        ({"model.kind": "vae"}, "ConfigError", "model.s_dim applies to model kind 'group_vae' only, not 'vae'"),
    ],
    ids=[
        "unknown-grouping",
        "groups-of-one",
        "missing-label-column",
        "no-content",
        "unknown-pooling",
        "binary-prior",
        "misspelt-option",
        "pairs-without-factors",
        "option-of-another-kind",
    ],
)
def test_bad_group_settings_are_refused_before_the_run_directory(tmp_path, overrides, error, message):
    import re

    import pyro_vae

    options = {k: v for k, v in SHAPES.items() if not (k.startswith("data.") and k != "data.name")}
    if overrides.get("data.name", "shapes") == "shapes":
        options.update({k: v for k, v in SHAPES.items() if k.startswith("data.")})
    options.update(overrides)
    with pytest.raises(getattr(pyro_vae, error), match=re.escape(message)):
        pyro_vae.fit(**options, out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_a_group_kind_on_unlabelled_data_is_refused(tmp_path):
    import pyro_vae

    with pytest.raises(pyro_vae.DataError, match="model kind 'group_vae' forms groups from labels"):
        pyro_vae.fit(data=torch.rand(60, 4).numpy(), **{"model.kind": "group_vae", "train.epochs": 1}, progress=False)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model.kind": "vae", "data.groups": "label"}, "data.groups applies to the kinds that train on groups"),
        ({"model.kind": "vae", "data.group_size": 5}, "data.group_size applies to the kinds that train on groups"),
        (
            {"data.groups": "pairs", "data.group_size": 3},
            "data.group_size applies to data.groups = 'label', not 'pairs'",
        ),
        ({"data.groups": "pairs", "data.group_factor": 1}, "data.group_factor applies to data.groups = 'label'"),
        ({"data.shared_factors": 2}, "data.shared_factors applies to data.groups = 'pairs', not 'label'"),
    ],
    ids=["groups-for-a-plain-vae", "size-for-a-plain-vae", "size-for-pairs", "factor-for-pairs", "shared-for-labels"],
)
def test_a_grouping_key_that_does_not_apply_is_refused(overrides, message):
    import re

    import pyro_vae
    from pyro_vae.config import resolve_config

    options = {k: v for k, v in SHAPES.items() if not k.startswith("model.") or k == "model.kind"}
    with pytest.raises(pyro_vae.ConfigError, match=re.escape(message)):
        resolve_config(None, **{**options, **overrides})


@pytest.mark.parametrize(("s_dim", "z_dim", "manifold"), [(1, 1, True), (2, 2, False)], ids=["2-d-code", "4-d-code"])
def test_group_pictures_hold_swaps_traversals_and_for_a_2d_code_the_manifold(tmp_path, s_dim, z_dim, manifold):
    import pyro_vae

    options = {**SHAPES, "model.s_dim": s_dim, "model.z_dim": z_dim}
    pyro_vae.fit(**options, out=tmp_path / "run", progress=False)
    names = {path.name for path in (tmp_path / "run").iterdir()}
    assert {"swaps.png", "traversals.png", "latent.png", "samples.png"} <= names
    assert ("manifold.png" in names) == manifold
