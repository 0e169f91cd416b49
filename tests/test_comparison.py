"""Comparing estimators: gradient SNR, the compare command and its outputs."""

from __future__ import annotations

import csv
import itertools
import json

import pytest
import torch
from linear_gaussian import linear_vae, make_linear_gaussian, set_guide

from pyro_vae.assemble import initial_vae, prepare_data
from pyro_vae.cli import main
from pyro_vae.cli.compare_cmd import parse_estimators
from pyro_vae.comparison import compare, estimator_label, gradient_snr, markdown_table
from pyro_vae.config import resolve_config
from pyro_vae.errors import ConfigError, RunDirError

ESTIMATORS = ["trace", "meanfield", {"name": "iwae", "num_particles": 3}, {"name": "dreg", "num_particles": 3}, "stl"]
SMALL = {"epochs": 2, "eval": {"samples": 30}, "network": {"name": "mlp", "hidden": [32]}}


@pytest.fixture(scope="module")
def snr_by_k():
    lg = make_linear_gaussian(d=6, k=2, scale=0.5, seed=0)
    x = lg.sample(64, torch.Generator().manual_seed(1))
    vae = linear_vae(lg)
    set_guide(vae, lg, loc_shift=0.1, scale_factor=1.1)
    return {
        (name, k): gradient_snr(vae, {"name": name, "num_particles": k}, x, repeats=100)
        for name in ("iwae", "dreg")
        for k in (1, 8, 64)
    }


def test_iwae_encoder_snr_falls_with_k_while_dreg_s_rises(snr_by_k):
    """The published result (Rainforth et al. 2018; Tucker et al. 2018), on the linear-Gaussian VAE."""
    iwae = [snr_by_k[("iwae", k)].encoder for k in (1, 8, 64)]
    dreg = [snr_by_k[("dreg", k)].encoder for k in (1, 8, 64)]
    assert all(a > b for a, b in itertools.pairwise(iwae)), iwae
    assert iwae[-1] < 0.3 * iwae[0], iwae
    assert all(a < b for a, b in itertools.pairwise(dreg)), dreg
    assert dreg[-1] > 3 * dreg[0], dreg


def test_decoder_snr_rises_with_k_and_is_shared_by_iwae_and_dreg(snr_by_k):
    decoder = [snr_by_k[("iwae", k)].decoder for k in (1, 8, 64)]
    assert all(a < b for a, b in itertools.pairwise(decoder)), decoder
    for k in (1, 8, 64):
        assert snr_by_k[("dreg", k)].decoder == pytest.approx(snr_by_k[("iwae", k)].decoder, rel=1e-9)


def test_gradient_snr_changes_no_parameters_and_restores_the_random_state():
    lg = make_linear_gaussian()
    x = lg.sample(16, torch.Generator().manual_seed(1))
    vae = linear_vae(lg)
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    state = torch.get_rng_state()
    first = gradient_snr(vae, "trace", x, repeats=10, seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(before[k], v) for k, v in vae.state_dict().items())
    assert all(p.grad is None for p in vae.parameters())
    assert gradient_snr(vae, "trace", x, repeats=10, seed=4) == first
    with pytest.raises(ValueError, match="at least 2 repeats"):
        gradient_snr(vae, "trace", x, repeats=1)


def test_every_estimator_starts_from_the_same_initialisation():
    base = resolve_config("examples/configs/digits.toml")
    data = prepare_data(base)
    states = []
    for spec in ESTIMATORS:
        config = resolve_config(base, estimator=spec)
        states.append(initial_vae(config, data).state_dict())
    for state in states[1:]:
        assert all(torch.equal(state[k], v) for k, v in states[0].items())


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "digits"
    result = compare(
        "examples/configs/digits.toml", ESTIMATORS, out=out, snr_repeats=5, snr_batch=32, snr_particles=(1, 3), **SMALL
    )
    return out, result


def test_compare_fits_each_estimator_with_the_same_budget(comparison):
    out, result = comparison
    labels = ["trace", "meanfield", "iwae-K3", "dreg-K3", "stl"]
    assert [row.estimator for row in result.rows] == labels
    assert {row.epochs for row in result.rows} == {2}
    assert {row.log_likelihood_samples for row in result.rows} == {30}
    for row in result.rows:
        assert row.test_elbo <= row.test_log_likelihood
        assert row.seconds_per_epoch > 0
        assert row.snr_encoder_start > 0 and row.snr_decoder_end > 0
    for label in labels:
        summary = json.loads((out / label / "summary.json").read_text())
        assert summary["estimator"]["name"] == label.split("-")[0]
        assert summary["stopped_early"] is False


def test_compare_writes_its_tables_and_plots(comparison):
    out, result = comparison
    with (out / "comparison.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["estimator"] for r in rows] == [row.estimator for row in result.rows]
    assert float(rows[2]["test_log_likelihood"]) == pytest.approx(result.rows[2].test_log_likelihood)
    table = (out / "comparison.md").read_text()
    assert table == markdown_table(result)
    assert table.count("\n| ") == 5 and "| dreg-K3 |" in table
    with (out / "snr_vs_k.csv").open() as handle:
        points = list(csv.DictReader(handle))
    assert [(p["estimator"], int(p["num_particles"])) for p in points] == [
        ("iwae", 1),
        ("iwae", 3),
        ("dreg", 1),
        ("dreg", 3),
    ]
    for name in ("learning_curves.png", "snr_vs_k.png"):
        assert (out / name).stat().st_size > 5000
    assert resolve_config(out / "config.toml").train.patience == 0


def test_snr_against_k_is_measured_at_the_reference_parameters(comparison):
    _, result = comparison
    assert result.reference == "trace"
    by_key = {(p.estimator, p.num_particles): p for p in result.snr_vs_k}
    # with one particle, iwae is the ordinary reparameterised ELBO gradient: the trace run's end SNR
    assert by_key[("iwae", 1)].snr_encoder == pytest.approx(result.rows[0].snr_encoder_end, rel=1e-6)
    # float32: the same decoder gradients up to rounding
    assert by_key[("iwae", 3)].snr_decoder == pytest.approx(by_key[("dreg", 3)].snr_decoder, rel=1e-5)


def test_compare_refuses_bad_requests(comparison, tmp_path):
    out, _ = comparison
    with pytest.raises(RunDirError, match="will not be overwritten"):
        compare("examples/configs/digits.toml", ["trace"], out=out, **SMALL)
    with pytest.raises(ConfigError, match="valid estimator names"):
        compare("examples/configs/digits.toml", ["trcae"], **SMALL)
    with pytest.raises(ConfigError, match="listed twice"):
        compare("examples/configs/digits.toml", ["trace", "trace"], **SMALL)
    with pytest.raises(ConfigError, match="at least one estimator"):
        compare("examples/configs/digits.toml", [], **SMALL)
    with pytest.raises(ConfigError, match="positive integers"):
        compare("examples/configs/digits.toml", ["trace"], snr_particles=(0,), **SMALL)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trace", ["trace"]),
        (
            "trace, iwae:5,dreg:10",
            ["trace", {"name": "iwae", "num_particles": 5}, {"name": "dreg", "num_particles": 10}],
        ),
        (
            "graph/baseline=learned,relaxed:2/straight_through=true/temperature=0.7",
            [
                {"name": "graph", "baseline": "learned"},
                {"name": "relaxed", "num_particles": 2, "straight_through": True, "temperature": 0.7},
            ],
        ),
    ],
    ids=["name", "particles", "options"],
)
def test_parse_estimators(text, expected):
    assert parse_estimators(text) == expected


@pytest.mark.parametrize("text", ["iwae:x", "iwae:0", ",trace", "trace,", "graph/baseline"])
def test_parse_estimators_rejects_bad_entries(text):
    with pytest.raises(ConfigError, match="--estimators"):
        parse_estimators(text)


def test_estimator_labels_are_readable():
    assert estimator_label("trace") == "trace"
    assert estimator_label({"name": "iwae", "num_particles": 5}) == "iwae-K5"
    assert estimator_label({"name": "renyi", "alpha": 0.5, "num_particles": 5}) == "renyi-K5-alpha0.5"


def test_compare_command_prints_the_table(tmp_path, capsys):
    argv = [
        "compare",
        "examples/configs/digits.toml",
        "--estimators",
        "trace,iwae:2",
        "--out",
        str(tmp_path / "c"),
        "--set",
        "train.epochs=1",
        "--set",
        "eval.samples=30",
        "--set",
        "model.network.hidden=[16]",
        "--snr-repeats",
        "3",
        "--snr-particles",
        "1,2",
        "--quiet",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| iwae-K2 |" in out and "gradient SNR against K" in out
    assert (tmp_path / "c" / "comparison.csv").is_file()
    assert main(["compare", "--estimators", "iwae:x", "--out", str(tmp_path / "d")]) == 2
    assert "number of particles" in capsys.readouterr().err


def test_compare_trains_binary_codes_with_each_of_their_estimators(tmp_path):
    """Binary latents: graph, relaxed and enum compared on one model; no iwae/dreg SNR-vs-K curve for them."""
    estimators = [{"name": "graph", "baseline": "learned"}, "relaxed", "enum"]
    result = compare(
        "examples/configs/digits.toml", estimators, out=tmp_path / "bits", prior="bernoulli", z_dim=6, **SMALL
    )
    assert [row.estimator for row in result.rows] == ["graph-baselinelearned", "relaxed", "enum"]
    for row in result.rows:
        assert row.test_elbo <= row.test_log_likelihood
        assert row.snr_encoder_start > 0
    assert result.snr_vs_k == []
    assert (tmp_path / "bits" / "comparison.csv").exists() and not (tmp_path / "bits" / "snr_vs_k.png").exists()
