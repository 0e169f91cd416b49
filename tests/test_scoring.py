"""Scores and codes out: per-example figures on every kind, ``pyro-vae score`` / ``encode`` on new data files."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
import torch

import pyro_vae
from pyro_vae.cli import main
from pyro_vae.config import ModelConfig
from pyro_vae.data import Split
from pyro_vae.errors import DataError
from pyro_vae.evaluation import evaluate_split
from pyro_vae.kinds import MODEL_KINDS, DataShape

SMALL = {"network": {"name": "mlp", "hidden": [8]}, "z_dim": 2}


@pytest.mark.parametrize(
    ("kind", "config", "classes"),
    [
        ("vae", {}, ()),
        ("ss_vae", {"factors": ["digit"]}, (3,)),
        ("group_vae", {"kind_options": {"s_dim": 2}}, ()),
        ("ada_gvae", {}, ()),
    ],
    ids=["vae", "ss_vae", "group_vae", "ada_gvae"],
)
def test_every_kind_scores_encodes_and_reconstructs_each_example(kind, config, classes):
    vae = MODEL_KINDS.get(kind).build(ModelConfig(kind=kind, **SMALL, **config), DataShape((1, 4, 4), classes))
    x = torch.rand(7, 1, 4, 4).bernoulli()
    log_likelihood = vae.log_likelihood(x, samples=5, batch_size=3)
    elbo = vae.elbo(x, batch_size=3)
    assert log_likelihood.shape == elbo.shape == (7,)
    # the same draws as the split-level evaluation: its figures are these means
    split = evaluate_split(vae, Split(x, None), samples=5, batch_size=3)
    assert log_likelihood.mean().item() == pytest.approx(split.log_likelihood, rel=1e-6)
    assert vae.elbo(x, samples=5, batch_size=3).mean().item() == pytest.approx(split.elbo, rel=1e-6)
    assert torch.isfinite(elbo).all()
    assert vae.transform(x.numpy()).shape == (7, vae.z_dim)
    torch.testing.assert_close(vae.transform(x), vae.encode(x)[0])
    assert vae.reconstruct(x).shape == x.shape


def test_scores_check_their_options():
    vae = MODEL_KINDS.get("vae").build(ModelConfig(**SMALL), DataShape((3,)))
    with pytest.raises(pyro_vae.ConfigError, match="samples must be a positive integer"):
        vae.log_likelihood(torch.rand(4, 3), samples=0)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A small digits run (binarized dynamically, scale 16) and its test split on the raw scale, as a file."""
    root = tmp_path_factory.mktemp("scoring")
    settings = {"data.limit": 300, "model.network.hidden": [16], "eval.samples": 20, "epochs": 2}
    result = pyro_vae.fit(out=root / "run", pictures=False, **settings)
    np.save(root / "test.npy", (result.data.test.x * 16).numpy())  # binary test pixels as raw 0/16 values
    return result, root


def _read_scores(path) -> dict[str, np.ndarray]:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]}


def test_score_on_the_runs_own_test_split_gives_back_its_summary(digits_run):
    result, root = digits_run
    assert main(["score", str(root / "run"), "--data", str(root / "test.npy"), "--out", str(root / "s.csv")]) == 0
    scores = _read_scores(root / "s.csv")
    summary = json.loads((root / "run" / "summary.json").read_text())
    assert list(scores["index"]) == list(range(len(result.data.test)))
    # the same examples, batches and per-batch seeds as the evaluation: the same draws, so the means agree
    # up to the rounding of a float32 sum (the summary adds batch sums, the CSV holds each example)
    assert scores["elbo"].mean() == pytest.approx(summary["test_elbo"], rel=1e-6)
    assert scores["log_likelihood"].mean() == pytest.approx(summary["test_log_likelihood"], rel=1e-6)
    assert (scores["log_likelihood"] >= scores["elbo"] - 1e-4).all()  # log mean exp >= mean, per example
    assert "psis_khat" not in scores  # K = 20 < 25: PSIS needs more draws


def test_score_gives_each_examples_psis_khat_with_enough_samples(digits_run, tmp_path):
    _, root = digits_run
    out = tmp_path / "s.csv"
    assert (
        main(["score", str(root / "run"), "--data", str(root / "test.npy"), "--samples", "100", "--out", str(out)]) == 0
    )
    scores = _read_scores(out)
    direct = pyro_vae.score(root / "run", root / "test.npy", samples=100)
    np.testing.assert_allclose(scores["psis_khat"], direct.khat)
    np.testing.assert_allclose(scores["log_likelihood"], direct.log_likelihood, rtol=1e-7)


def test_score_of_an_array_run_needs_its_scale(tmp_path):
    x = np.random.default_rng(0).random((120, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    tiny = {"epochs": 1, "model.network.hidden": [8], "eval.samples": 5, "likelihood": "continuous_bernoulli"}
    pyro_vae.fit(data=x, out=tmp_path / "auto", pictures=False, **tiny)
    with pytest.raises(DataError, match=r"in-memory array with data\.scale = 'auto'"):
        pyro_vae.score(tmp_path / "auto", tmp_path / "x.npy")
    pyro_vae.fit(data=x, out=tmp_path / "one", pictures=False, **{**tiny, "data.scale": 1})
    assert pyro_vae.score(tmp_path / "one", tmp_path / "x.npy").elbo.shape == (120,)


def test_score_with_more_samples_and_encode(digits_run):
    result, root = digits_run
    scores = pyro_vae.score(root / "run", root / "test.npy", samples=200)
    assert scores.log_likelihood.shape == (len(result.data.test),)
    assert main(["encode", str(root / "run"), "--data", str(root / "test.npy"), "--out", str(root / "c.npy")]) == 0
    codes = np.load(root / "c.npy")
    assert codes.shape == (len(result.data.test), 2, 2)
    means, stds = result.vae.encode_all(result.data.test.x)
    np.testing.assert_allclose(codes[:, 0], means.numpy(), rtol=1e-6)
    np.testing.assert_allclose(codes[:, 1], stds.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (
            np.zeros((5, 7, 7), np.float32),
            r"shape \(1, 7, 7\), but the run was fitted on \(1, 8, 8\)",
        ),
        (np.full((5, 8, 8), 255.0, np.float32), r"has values in \[15.9375, 15.9375\] once divided by the run's scale"),
    ],
    ids=["other-shape", "other-scale"],
)
def test_data_not_like_the_runs_is_refused_in_one_line(digits_run, tmp_path, capsys, array, message):
    _, root = digits_run
    np.save(tmp_path / "new.npy", array)
    status = main(["score", str(root / "run"), "--data", str(tmp_path / "new.npy"), "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
    assert not (tmp_path / "s.csv").exists()


def test_score_refuses_an_unknown_format_and_a_wrong_out(digits_run, tmp_path):
    _, root = digits_run
    with pytest.raises(DataError, match="cannot tell the format"):
        pyro_vae.score(root / "run", tmp_path / "new.txt")
    assert main(["encode", str(root / "run"), "--data", str(root / "test.npy"), "--out", str(tmp_path / "c.csv")]) == 2
