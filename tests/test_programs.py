"""Your own Pyro programs (kind ``program``): trained like Pyro's SVI, scored against the closed form, resumed.

The programs are a linear-Gaussian VAE written by hand (``x = W z + b + noise``, ``z ~ N(0, I)``), whose
evidence ``p(x) = N(x; b, W W^T + s^2 I)`` is exact (``linear_gaussian.py``).
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from linear_gaussian import LinearGaussian, make_linear_gaussian
from pyro import poutine
from pyro.nn import PyroModule
from torch import nn

import pyro_vae
from pyro_vae.cli import main
from pyro_vae.data import TrainingBatches
from pyro_vae.errors import ConfigError, RunDirError
from pyro_vae.programs import Programs

D, K, SCALE = 6, 2, 0.5
TINY = {"epochs": 3, "batch_size": 32, "lr": 1e-2, "eval.samples": 50}


class LinearModel(PyroModule):
    """``z ~ N(0, I)``, ``x ~ N(decoder(z), SCALE^2 I)`` in the data plate."""

    def __init__(self) -> None:
        super().__init__()
        self.decoder = nn.Linear(K, D)

    def forward(self, x, y=None):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(x.new_zeros(K), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(self.decoder(z), SCALE).to_event(1), obs=x)


class LinearGuide(PyroModule):
    """``q(z | x) = N(loc(x), diag scale(x)^2)`` from one linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(D, 2 * K)

    def forward(self, x, y=None):
        loc, raw = self.net(x).chunk(2, -1)
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(loc, nn.functional.softplus(raw) + 1e-3).to_event(1))


ENCODER = nn.Linear(D, 2 * K)


def function_guide(x, y=None):
    """The same guide as a function registering its network with pyro.module."""
    loc, raw = pyro.module("encoder", ENCODER)(x).chunk(2, -1)
    with pyro.plate("data", x.shape[0]):
        pyro.sample("z", dist.Normal(loc, nn.functional.softplus(raw) + 1e-3).to_event(1))


@pytest.fixture
def lg() -> LinearGaussian:
    return make_linear_gaussian(d=D, k=K, scale=SCALE, seed=0)


@pytest.fixture
def x(lg) -> torch.Tensor:
    return lg.sample(400, torch.Generator().manual_seed(1)).float()


def programs(seed: int = 0) -> tuple[LinearModel, LinearGuide]:
    torch.manual_seed(seed)
    return LinearModel(), LinearGuide()


def fitted_evidence(model: LinearModel, x: torch.Tensor) -> torch.Tensor:
    """Exact ``log p(x)`` per example under the model's current decoder (float64)."""
    weight, bias = model.decoder.weight.double(), model.decoder.bias.double()
    fitted = LinearGaussian(weight, bias, torch.full((D,), SCALE, dtype=torch.float64))
    return fitted.log_likelihood(x.double())


def test_fit_matches_pyro_svi_with_trace_elbo(x):
    settings = {**TINY, "optimizer": {"name": "adam", "fused": False}, "patience": 0}
    model, guide = programs()
    result = pyro_vae.fit(data=x, model=model, guide=guide, pictures=False, **settings)

    # Pyro's own SVI on the same batches, from the same initialisation and seed; each batch's loss
    # divided by its size as pyro-vae does (both programs scaled by 1/B)
    pyro.clear_param_store()
    ref_model, ref_guide = programs()
    pyro.set_rng_seed(result.config.seed)
    optim = pyro.optim.Adam({"lr": settings["lr"]})
    scaled = {}
    svi = pyro.infer.SVI(
        lambda x: poutine.scale(ref_model, 1 / x.shape[0])(x),
        lambda x: poutine.scale(ref_guide, 1 / x.shape[0])(x),
        optim,
        pyro.infer.Trace_ELBO(),
    )
    generator = torch.Generator().manual_seed(result.config.seed)
    snapshots, train_elbos = [], []
    for _ in range(settings["epochs"]):
        total, seen = 0.0, 0
        for batch, _ in TrainingBatches(result.data.train, settings["batch_size"], 0, generator, False, 0):
            total += svi.step(batch) * batch.shape[0]
            seen += batch.shape[0]
        train_elbos.append(-total / seen)
        snapshots.append(copy.deepcopy({**ref_model.state_dict(), **ref_guide.state_dict()}))
        scaled[len(snapshots)] = True

    assert [row["train_elbo"] for row in result.history] == pytest.approx(train_elbos, rel=1e-5)
    best = snapshots[result.summary["best_epoch"] - 1]
    ours = {**model.state_dict(), **guide.state_dict()}  # fit trained the user's own modules in place
    for name, value in best.items():
        torch.testing.assert_close(ours[name], value, rtol=1e-5, atol=1e-6, msg=name)


def test_exact_posterior_guide_makes_is_log_likelihood_exact(lg, x):
    model, guide = programs()
    result = pyro_vae.fit(data=x, model=model, guide=guide, pictures=False, **{**TINY, "epochs": 1})
    # the linear-Gaussian posterior N(A (x - b), diag v) put into the hand-written programs
    with torch.no_grad():
        model.decoder.weight.copy_(lg.W)
        model.decoder.bias.copy_(lg.b)
        precision = torch.eye(K, dtype=torch.float64) + lg.W.T @ lg.W / SCALE**2
        variances = 1.0 / torch.diagonal(precision)
        gain = (lg.W / SCALE**2 * variances).T
        guide.net.weight.zero_()
        guide.net.weight[:K] = gain
        guide.net.bias[:K] = -gain @ lg.b
        guide.net.bias[K:] = torch.log(torch.expm1(variances.sqrt() - 1e-3))
    test = result.data.test.x
    exact = lg.log_likelihood(test.double()).float()
    # every importance weight is p(x) itself: the estimate is exact whatever K (float32 rounding)
    torch.testing.assert_close(result.vae.log_likelihood(test, samples=20), exact, rtol=0, atol=2e-4)
    torch.testing.assert_close(result.vae.elbo(test), exact, rtol=0, atol=2e-4)


def test_is_log_likelihood_brackets_the_exact_evidence(x):
    model, guide = programs()
    result = pyro_vae.fit(data=x, model=model, guide=guide, pictures=False, **{**TINY, "epochs": 8})
    test = result.data.test.x
    exact = fitted_evidence(model, test).mean().item()
    elbo = result.vae.elbo(test, samples=100).mean().item()
    estimates = [result.vae.log_likelihood(test, samples=k, seed=1).mean().item() for k in (10, 1000)]
    # ELBO <= IS(K) <= log p(x): lower bounds in expectation, tightening with K; the last one within
    # 0.02 nats of the closed form (over the 40 test examples the estimator's spread is ~0.005)
    assert elbo < estimates[0] < estimates[1] <= exact + 0.005
    assert exact - estimates[1] < 0.02
    assert 0 < result.summary["psis_khat_mean"] < 0.7  # PSIS of the test weights, through the traces
    assert result.summary["test_log_likelihood"] == pytest.approx(
        result.vae.log_likelihood(test, samples=50).mean().item(), rel=1e-6
    )


def function_model(x, y=None):
    """The model as a function: its decoder through pyro.module, a learned noise scale as a bare pyro.param."""
    decoder = pyro.module("decoder", DECODER)
    noise = pyro.param("noise", torch.tensor(1.0), constraint=dist.constraints.positive)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(K), 1.0).to_event(1))
        pyro.sample("x", dist.Normal(decoder(z), noise).to_event(1), obs=x)


DECODER = nn.Linear(K, D)


def test_function_programs_train_their_networks_and_params(x):
    pyro.get_param_store().setdefault("decoder$$$weight", torch.zeros(D, K))  # stale global entries are not used
    before = ENCODER.weight.detach().clone(), DECODER.weight.detach().clone()
    result = pyro_vae.fit(data=x, model=function_model, guide=function_guide, pictures=False, **TINY)
    assert not torch.equal(ENCODER.weight, before[0])  # adopted from pyro.module and optimised
    assert not torch.equal(DECODER.weight, before[1])
    state = result.vae.state_dict()
    assert {"guide.adopted.encoder$$$weight", "model.adopted.decoder$$$bias", "model.adopted.noise"} <= set(state)
    assert state["model.adopted.noise"].item() != 0.0  # the unconstrained scale moved from log(1)
    assert result.vae.z_dim == K


def test_resume_and_load_need_the_same_programs(x, tmp_path, capsys):
    run = tmp_path / "run"
    model, guide = programs()
    pyro_vae.fit(data=x, model=model, guide=guide, out=run, pictures=False, **TINY)
    with pytest.raises(ConfigError, match=r"runs your own Pyro programs \(model .*LinearModel.*pass them again"):
        pyro_vae.resume(run, data=x, overrides=["train.epochs=4"])
    with pytest.raises(ConfigError, match=r"fitted with model .*LinearModel and guide .*LinearGuide, but"):
        pyro_vae.resume(run, data=x, model=model, guide=function_guide, overrides=["train.epochs=4"])
    with pytest.raises(ConfigError, match="runs your own Pyro programs"):
        pyro_vae.load_run(run)
    np.save(tmp_path / "x.npy", x.numpy())
    assert main(["score", str(run), "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "s.csv")]) == 2
    assert "the command line cannot rebuild them" in capsys.readouterr().err
    fresh_model, fresh_guide = programs(seed=5)
    result = pyro_vae.resume(run, data=x, model=fresh_model, guide=fresh_guide, overrides=["train.epochs=4"])
    assert len(result.history) == 4
    _, config = pyro_vae.load_run(run, model=LinearModel(), guide=LinearGuide())
    assert config.model.kind == "program"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == 4
    assert summary["model"] == "program" and summary["z_dim"] == K
    again = pyro_vae.evaluate(run, data=x, model=LinearModel(), guide=LinearGuide(), samples=30)
    assert again["log_likelihood_samples"] == 30 and again["epochs"] == 4


def test_a_changed_program_does_not_fit_the_checkpoint(x, tmp_path):
    run = tmp_path / "run"
    model, guide = programs()
    pyro_vae.fit(data=x, model=model, guide=guide, out=run, pictures=False, **TINY)
    model.extra = nn.Linear(2, 2)  # same class name, other parameters
    with pytest.raises(RunDirError, match="does not fit its config"):
        pyro_vae.load_run(run, model=model, guide=guide)


def _no_plate_model(x, y=None):
    z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], K), 1.0).to_event(1))
    pyro.sample("x", dist.Normal(z @ torch.ones(K, D), 1.0).to_event(1), obs=x)


def _no_event_model(x, y=None):
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], K), 1.0).to_event(1))
        pyro.sample("x", dist.Normal(z @ torch.ones(K, D), 1.0), obs=x)


def _two_batch_dims_model(x, y=None):
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(1, x.shape[0], K), 1.0).to_event(1))
        pyro.sample("x", dist.Normal(z.reshape(-1, K) @ torch.ones(K, D), 1.0).to_event(1), obs=x)


def _particle_blind_model(x, y=None):
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(K), 1.0).to_event(1))
        pyro.sample("x", dist.Normal((z @ torch.ones(K, D)).reshape(x.shape), 1.0).to_event(1), obs=x)


def _obs_elsewhere_model(x, y=None):
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], K), 1.0).to_event(1))
        pyro.sample("obs", dist.Normal(z @ torch.ones(K, D), 1.0).to_event(1), obs=x)


def _wrong_shape_model(x, y=None):
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], K), 1.0).to_event(1))
        pyro.sample("x", dist.Normal(z @ torch.ones(K, D + 1), 1.0).to_event(1), obs=x)


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (_no_plate_model, "site 'z' of your model is not in a data plate"),
        (_no_event_model, r"your model failed .*Shape mismatch inside plate\('data'\) at site x"),
        (_two_batch_dims_model, r"site 'z' of your model has batch shape \(1, 3\) for 3 examples.*to_event"),
        (_obs_elsewhere_model, "must observe the examples at a site named 'x'"),
        (_particle_blind_model, r"particle dimension on the left.*reshape\(\*z.shape\[:-1\]"),
        (_wrong_shape_model, r"your model failed on a batch of 3 examples of shape \(6,\)"),
        (42, "model= must be a Pyro program"),
    ],
    ids=[
        "no-plate",
        "no-event",
        "two-batch-dims",
        "observed-elsewhere",
        "particle-blind",
        "wrong-shape",
        "not-callable",
    ],
)
def test_programs_breaking_the_contract_are_refused_in_one_line(x, tmp_path, model, match):
    with pytest.raises(ConfigError, match=match) as error:
        pyro_vae.fit(data=x, model=model, guide=LinearGuide(), out=tmp_path / "run", **TINY)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()


def _discrete_guide(x, y=None):
    pyro.module("encoder", ENCODER)
    with pyro.plate("data", x.shape[0]):
        pyro.sample("z", dist.Bernoulli(torch.sigmoid(ENCODER(x)[:, :K])).to_event(1))


def _discrete_model(x, y=None):
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Bernoulli(x.new_full((K,), 0.5)).to_event(1))
        pyro.sample("x", dist.Normal(z @ torch.ones(K, D), 1.0).to_event(1), obs=x)


@pytest.mark.parametrize(
    ("model", "guide", "estimator", "match"),
    [
        (LinearModel, LinearGuide, "jit_trace", "'jit_trace' compiles the programs in a private parameter store"),
        (lambda: _discrete_model, lambda: _discrete_guide, "iwae", "guide's site 'z' \\(Bernoulli\\) is discrete"),
    ],
    ids=["jit", "iwae-on-bits"],
)
def test_estimators_that_cannot_train_the_programs_are_refused(x, tmp_path, model, guide, estimator, match):
    with pytest.raises(ConfigError, match=match):
        pyro_vae.fit(data=x, model=model(), guide=guide(), estimator=estimator, out=tmp_path / "run", **TINY)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("estimator", ["trace", "meanfield", "graph", {"name": "iwae", "num_particles": 3}, "dreg"])
def test_generic_estimators_train_the_programs(x, estimator):
    model, guide = programs()
    result = pyro_vae.fit(data=x, model=model, guide=guide, estimator=estimator, pictures=False, **TINY)
    assert result.history[-1]["val_elbo"] > result.history[0]["val_elbo"]


def test_compare_runs_each_estimator_from_the_same_start(x, tmp_path):
    np.save(tmp_path / "x.npy", x.numpy())
    model, guide = programs()
    start = copy.deepcopy((model.state_dict(), guide.state_dict()))
    estimators = ["trace", {"name": "iwae", "num_particles": 3}]
    data = {"data.name": "npy", "data.path": str(tmp_path / "x.npy")}
    snr = {"snr_repeats": 3, "snr_batch": 16, "snr_particles": (1, 2)}
    comparison = pyro_vae.compare(
        estimators=estimators, model=model, guide=guide, out=tmp_path / "cmp", **snr, **data, **TINY
    )
    assert [row.estimator for row in comparison.rows] == ["trace", "iwae-K3"]
    # the same start: a fit of trace alone from the same parameters reaches the same test ELBO
    model.load_state_dict(start[0])
    guide.load_state_dict(start[1])
    alone = pyro_vae.fit(None, model=model, guide=guide, pictures=False, **{**data, **TINY, "patience": 0})
    assert comparison.rows[0].test_elbo == pytest.approx(alone.summary["test_elbo"], rel=1e-6)
    assert (tmp_path / "cmp" / "iwae-K3" / "best.pt").is_file()


def test_compare_refuses_an_estimator_the_programs_cannot_take_before_writing(x, tmp_path):
    np.save(tmp_path / "x.npy", x.numpy())
    with pytest.raises(ConfigError, match="'dreg' needs reparameterized latents, but your guide's site 'z'"):
        pyro_vae.compare(
            None,
            ["trace", "dreg"],
            model=_discrete_model,
            guide=_discrete_guide,
            out=tmp_path / "cmp",
            **{"data.name": "npy", "data.path": str(tmp_path / "x.npy")},
            **TINY,
        )
    assert not (tmp_path / "cmp").exists()


def test_kl_weight_scales_every_latent_site_and_not_the_observation(x):
    pair = Programs(*programs())
    vae = pair.build(pyro_vae.resolve_config(None, **pair.keywords()), (D,))
    guide_trace = poutine.trace(vae.guide).get_trace(x[:5], kl_weight=0.3)
    model_trace = poutine.trace(poutine.replay(vae.model, trace=guide_trace)).get_trace(x[:5], kl_weight=0.3)
    assert guide_trace.nodes["z"]["scale"] == model_trace.nodes["z"]["scale"] == pytest.approx(0.3)
    assert model_trace.nodes["x"]["scale"] == 1.0
    # so the bound is log p(x | z) + w (log p(z) - log q(z | x)), the built-in kinds' warm-up objective
    guide_trace.compute_log_prob()
    model_trace.compute_log_prob()
    expected = model_trace.nodes["x"]["log_prob"] + 0.3 * (
        model_trace.nodes["z"]["fn"].log_prob(model_trace.nodes["z"]["value"])
        - guide_trace.nodes["z"]["fn"].log_prob(guide_trace.nodes["z"]["value"])
    )
    weighted = model_trace.log_prob_sum() - guide_trace.log_prob_sum()
    torch.testing.assert_close(weighted, expected.sum())
