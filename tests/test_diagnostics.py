"""ArviZ diagnostics: PSIS k-hat of the guide's importance weights and the InferenceData export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from linear_gaussian import linear_vae, make_linear_gaussian, set_guide

import pyro_vae
from pyro_vae.cli import main
from pyro_vae.data import Split
from pyro_vae.diagnostics import MIN_PSIS_DRAWS, psis_khat, summarize_khat
from pyro_vae.diagnostics._arviz import arviz
from pyro_vae.errors import ConfigError
from pyro_vae.evaluation import evaluate_split, log_importance_weights


def test_khat_recovers_the_tail_of_pareto_weights():
    generator = np.random.default_rng(0)
    for shape in (0.3, 0.9):  # weights ~ Pareto with tail index 1/shape: k = shape
        weights = generator.pareto(1.0 / shape, size=(4000, 20)) + 1.0
        khat = psis_khat(torch.from_numpy(np.log(weights)))
        assert khat.shape == (20,)
        assert abs(np.median(khat) - shape) < 0.15, (shape, khat)


def test_a_guide_narrower_than_the_posterior_gives_unreliable_weights():
    """q narrower than p(z|x) makes p/q heavy-tailed; a wider q keeps it light.

    For a Gaussian posterior and a guide with scales ``c`` times the posterior's,
    the weights' tail index gives ``k = 1 - c^2`` when ``c < 1`` (0.96 for ``c = 0.2``)
    and bounded weights (``k < 0.5``) when ``c > 1``.
    """
    lg = make_linear_gaussian(d=6, k=2, scale=0.5, seed=0)
    x = lg.sample(50, torch.Generator().manual_seed(1))
    vae = linear_vae(lg)
    khats = {}
    for factor in (0.2, 1.5):
        set_guide(vae, lg, scale_factor=factor)
        khats[factor] = psis_khat(log_importance_weights(vae.model, vae.guide, x, 2000))
    assert np.mean(khats[0.2] > 0.7) > 0.85
    assert np.mean(khats[1.5] < 0.5) > 0.9


def test_evaluate_split_gives_one_khat_per_example_only_with_enough_draws():
    lg = make_linear_gaussian()
    x = lg.sample(30, torch.Generator().manual_seed(1))
    vae = linear_vae(lg)
    set_guide(vae, lg, scale_factor=1.2)
    assert evaluate_split(vae, Split(x, None), samples=100, batch_size=7, psis=True).khat.shape == (30,)
    assert evaluate_split(vae, Split(x, None), samples=MIN_PSIS_DRAWS - 1, psis=True).khat is None
    assert evaluate_split(vae, Split(x, None), samples=100).khat is None
    with pytest.raises(ValueError, match="at least 25 draws"):
        psis_khat(torch.zeros(10, 3))


def test_summarize_khat():
    assert summarize_khat(np.array([0.1, 0.8, 0.9, 0.2])) == {
        "psis_khat_mean": pytest.approx(0.5),
        "psis_khat_frac_above_0.7": 0.5,
        "psis_khat_nonfinite": 0,
    }
    assert summarize_khat(None) == {
        "psis_khat_mean": None,
        "psis_khat_frac_above_0.7": None,
        "psis_khat_nonfinite": None,
    }


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("diag") / "run"
    pyro_vae.fit(
        out=out, epochs=2, z_dim=3, eval={"samples": 60}, network={"name": "mlp", "hidden": [32]}, pictures=False
    )
    return out


def test_fit_reports_psis_in_the_summary(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    assert 0 <= summary["psis_khat_frac_above_0.7"] <= 1
    assert -0.5 < summary["psis_khat_mean"] < 2


def test_diagnose_writes_inference_data_and_the_khat_histogram(run_dir):
    summary = pyro_vae.diagnose(run_dir, points=7, draws=40, samples=80)
    assert summary["log_likelihood_samples"] == 80
    assert json.loads((run_dir / "summary.json").read_text())["psis_khat_mean"] == summary["psis_khat_mean"]
    assert (run_dir / "psis_khat.png").stat().st_size > 5000
    idata = arviz.from_netcdf(run_dir / "diagnostics.nc")
    assert {"posterior", "log_likelihood", "sample_stats", "observed_data", "training_history", "psis"} <= set(
        idata.groups()
    )
    assert idata.posterior["z"].shape == (1, 40, 7, 3)
    assert idata.log_likelihood["x"].shape == (1, 40, 7)
    assert idata.observed_data["x"].shape == (7, 64)
    assert idata.training_history["val_elbo"].shape == (2,)
    assert idata.psis["khat"].shape == (summary["n_test"],)
    assert np.mean(idata.psis["khat"].values > 0.7) == pytest.approx(summary["psis_khat_frac_above_0.7"])


def test_exported_log_weights_decompose_into_likelihood_prior_and_guide(run_dir):
    """log w = log p(x | z) + log p(z) - log q(z | x), draw by draw, from the exported values."""
    vae, _ = pyro_vae.load_run(run_dir)
    idata = arviz.from_netcdf(run_dir / "diagnostics.nc")
    z = torch.as_tensor(idata.posterior["z"].values[0])
    x = torch.as_tensor(idata.observed_data["x"].values).reshape(7, 1, 8, 8).float()
    with torch.no_grad():
        log_prior = vae.prior().log_prob(z.float())
        log_q = vae.guide.posteriors(x)["z"].log_prob(z.float())
    expected = torch.as_tensor(idata.log_likelihood["x"].values[0]) + log_prior - log_q
    np.testing.assert_allclose(idata.sample_stats["log_weight"].values[0], expected.numpy(), rtol=1e-4, atol=1e-3)


def test_diagnose_needs_enough_draws_for_psis(run_dir):
    with pytest.raises(ConfigError, match="--samples 25 or more"):
        pyro_vae.diagnose(run_dir, samples=10)
    with pytest.raises(ConfigError, match="points must be a positive integer"):
        pyro_vae.diagnose(run_dir, points=0)


def test_diagnose_command(run_dir, capsys):
    assert main(["diagnose", str(run_dir), "--points", "3", "--draws", "30", "--samples", "50"]) == 0
    out = capsys.readouterr().out
    assert "PSIS k-hat: mean" in out and "diagnostics.nc" in out
    assert main(["diagnose", str(run_dir / "missing")]) == 2


def test_diagnose_exports_chosen_test_points(run_dir):
    pyro_vae.diagnose(run_dir, points=[4, 0, 11], draws=20, samples=40)
    idata = arviz.from_netcdf(run_dir / "diagnostics.nc")
    assert list(idata.posterior["example"].values) == [4, 0, 11]
    assert idata.posterior["z"].shape == (1, 20, 3, 3)
    with pytest.raises(ConfigError, match="test indices must be integers"):
        pyro_vae.diagnose(run_dir, points=[0, 10_000], samples=40)
    assert main(["diagnose", str(run_dir), "--points", "2,5", "--draws", "10", "--samples", "30"]) == 0
    assert list(arviz.from_netcdf(run_dir / "diagnostics.nc").posterior["example"].values) == [2, 5]
    assert main(["diagnose", str(run_dir), "--points", "a,b"]) == 2


def test_non_finite_khat_counts_as_unreliable_and_stays_out_of_the_mean():
    """A binary code with few distinct weights leaves PSIS no tail to fit: k-hat is infinite there."""
    summary = summarize_khat(np.array([0.2, np.inf, 0.9, np.nan]))
    assert summary["psis_khat_mean"] == pytest.approx(0.55)
    assert summary["psis_khat_frac_above_0.7"] == pytest.approx(0.75)
    assert summary["psis_khat_nonfinite"] == 2
    assert summarize_khat(np.array([np.inf]))["psis_khat_mean"] is None
