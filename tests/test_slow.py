"""Slow checks (``make test-slow``): the shipped configs train to sensible likelihoods."""

from __future__ import annotations

from pathlib import Path

import pytest

import pyro_vae

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

pytestmark = pytest.mark.slow


def test_the_demo_config_learns_a_good_2d_model(tmp_path):
    result = pyro_vae.fit(ROOT / "examples" / "configs" / "digits.toml", out=tmp_path / "demo")
    # a 2-D Bernoulli VAE on dynamically binarized 8x8 digits: about -23 nats (a collapsed
    # posterior, which ignores z, stays near -27)
    assert result.summary["test_log_likelihood"] > -25.0
    assert (tmp_path / "demo" / "manifold.png").is_file()


@pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw").is_dir(), reason="MNIST not under ../shared/data")
def test_mnist_config_trains_on_real_mnist(tmp_path):
    result = pyro_vae.fit(
        ROOT / "examples" / "configs" / "mnist.toml",
        out=tmp_path / "mnist",
        overrides=[f"data.root={str(SHARED_DATA)!r}".replace("'", '"'), "data.limit=20000", "train.epochs=4"],
        eval={"samples": 100},
    )
    assert result.summary["n_test"] == 10000 and result.data.event_shape == (1, 28, 28)
    assert result.summary["test_log_likelihood"] > -135.0
    assert result.summary["test_elbo"] < result.summary["test_log_likelihood"]
