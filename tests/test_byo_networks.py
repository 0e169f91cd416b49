"""Issue 16, "Networks in": your own encoder and decoder as ``fit(network=...)``.

The contract is the built-in networks' (``pyro_vae.networks.custom``): encoder ``(B, *event_shape)
-> (B, encoder_out)``, decoder ``(..., z_dim) -> (..., params_per_dim, *event_shape)``. A network
that breaks it is refused before training, naming the output, its shape and the shape expected;
one that keeps it trains, is checkpointed, and is asked for again by whatever reopens the run.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import pyro_vae
from pyro_vae.cli import main
from pyro_vae.errors import ConfigError
from pyro_vae.networks import Networks

TINY = {"epochs": 2, "eval.samples": 5, "data.binarize": "none", "likelihood": "continuous_bernoulli"}
EVENT = (1, 6, 6)


def _data(n: int = 100) -> torch.Tensor:
    return torch.rand(n, *EVENT, generator=torch.Generator().manual_seed(0))


class Factory(nn.Module):
    """A factory (a class called with the sizes) whose instances hold ``encoder`` and ``decoder``."""

    def __init__(self, event_shape, z_dim, params_per_dim, encoder_out) -> None:
        super().__init__()
        size = math.prod(event_shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(size, 16), nn.Tanh(), nn.Linear(16, encoder_out))
        self.decoder = nn.Sequential(
            nn.Linear(z_dim, 16),
            nn.Tanh(),
            nn.Linear(16, params_per_dim * size),
            nn.Unflatten(-1, (params_per_dim, *event_shape)),
        )


class OtherFactory(Factory):
    pass


def test_factory_trains_and_is_checkpointed(tmp_path) -> None:
    run = tmp_path / "run"
    result = pyro_vae.fit(data=_data(), network=Factory, out=run, pictures=False, **TINY)
    assert result.config.model.network == {"name": "custom", "origin": "test_byo_networks.Factory"}
    assert 'network = {name = "custom", origin = "test_byo_networks.Factory"}' in (run / "config.toml").read_text()
    assert isinstance(result.vae.guide.encoder, nn.Sequential) and len(result.vae.guide.encoder) == 4
    assert all(math.isfinite(row["train_elbo"]) for row in result.history)
    vae, _ = pyro_vae.load_run(run, network=Factory)
    saved, trained = vae.state_dict(), result.vae.state_dict()
    assert any(key.startswith("guide.encoder.1.") for key in saved)  # the custom modules' parameters
    assert all(torch.equal(saved[key], trained[key]) for key in trained)
    x = _data(4)
    assert torch.allclose(vae.reconstruct(x), result.vae.reconstruct(x))


def test_object_is_used_as_it_is() -> None:
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(36, 4))  # z_dim 2: a location and a scale each
    decoder = nn.Sequential(nn.Linear(2, 36), nn.Unflatten(-1, (1, *EVENT)))
    before = decoder[0].weight.detach().clone()
    result = pyro_vae.fit(data=_data(), network=Networks(encoder, decoder), **TINY)
    assert result.vae.guide.encoder is encoder and result.vae.model.decoder is decoder
    assert not torch.equal(decoder[0].weight, before)  # trained in place
    assert result.config.model.network["origin"] == (
        "pyro_vae.networks._registry.Networks(encoder=torch.nn.modules.container.Sequential, "
        "decoder=torch.nn.modules.container.Sequential)"
    )


class Reshaping(nn.Module):
    """A decoder that only takes ``(B, z_dim)``: it flattens to a fixed batch layout."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 36)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z).view(z.shape[0], 1, *EVENT)


class Pair(nn.Module):
    def __init__(self, encoder: nn.Module, decoder: nn.Module | None) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder


def _encoder(width: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(36, width))


def _decoder(params: int) -> nn.Module:
    return nn.Sequential(nn.Linear(2, params * 36), nn.Unflatten(-1, (params, *EVENT)))


@pytest.mark.parametrize(
    "network, likelihood, match",
    [
        pytest.param(
            Pair(_encoder(3), _decoder(1)),
            "continuous_bernoulli",
            r"network encoder maps an input of shape \(2, 1, 6, 6\) to \(2, 3\); expected \(2, 4\) \(encoder_out = 4",
            id="encoder-width",
        ),
        pytest.param(
            Pair(_encoder(4), _decoder(2)),
            "continuous_bernoulli",
            r"network decoder maps an input of shape \(2, 2\) to \(2, 2, 1, 6, 6\); expected \(2, 1, 1, 6, 6\) "
            r"\(params_per_dim = 1",
            id="decoder-params-per-dim",
        ),
        pytest.param(
            Pair(_encoder(4), Reshaping()),
            "continuous_bernoulli",
            r"decoder maps an input of shape \(3, 2, 2\) to an error \(RuntimeError: .*\); "
            r"expected \(3, 2, 1, 1, 6, 6\)",
            id="decoder-without-particle-axis",
        ),
        pytest.param(
            Pair(nn.LSTM(36, 4), _decoder(1)),
            "continuous_bernoulli",
            r"network encoder maps an input of shape \(2, 1, 6, 6\) to an error",
            id="encoder-raises",
        ),
        pytest.param(
            Pair(_encoder(4), None),
            "continuous_bernoulli",
            "must have 'encoder' and 'decoder' attributes that are torch.nn.Modules, got encoder=Sequential, "
            "decoder=NoneType",
            id="no-decoder",
        ),
        pytest.param(
            lambda **sizes: _encoder(4),
            "continuous_bernoulli",
            "network test_byo_networks.<lambda> must have 'encoder' and 'decoder'",
            id="factory-returns-a-module",
        ),
    ],
)
def test_bad_network_is_refused_before_training(network, likelihood, match, tmp_path) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        pyro_vae.fit(data=_data(), network=network, out=tmp_path / "run", **{**TINY, "likelihood": likelihood})
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()


def test_reopening_asks_for_the_same_network(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    x = _data()
    pyro_vae.fit(data=x, network=Factory, out=run, pictures=False, **{**TINY, "epochs": 1})
    with pytest.raises(ConfigError, match=r"this run uses your own network \(test_byo_networks.Factory\)"):
        pyro_vae.load_run(run)
    with pytest.raises(ConfigError, match=r"fitted with network test_byo_networks.Factory, but got .*OtherFactory"):
        pyro_vae.resume(run, data=x, network=OtherFactory, overrides=["train.epochs=2"])
    with pytest.raises(ConfigError, match="network= of a saved run is fixed"):
        pyro_vae.resume(run, data=x, network="mlp")
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")]) == 2
    assert "the command line cannot rebuild it" in capsys.readouterr().err
    resumed = pyro_vae.resume(run, data=x, network=Factory, overrides=["train.epochs=2"])
    straight = pyro_vae.fit(data=x, network=Factory, **TINY)
    assert resumed.summary["test_elbo"] == pytest.approx(straight.summary["test_elbo"], abs=1e-4)
    with pyro_vae.using_network(Factory):
        assert pyro_vae.sample(run, 3).shape == (3, *EVENT)


def test_factory_serves_the_semi_supervised_kind_too() -> None:
    x = _data(90)
    labels = torch.arange(90) % 3
    result = pyro_vae.fit(data=x, labels=labels, kind="ss_vae", network=Factory, **TINY)
    assert 0.0 <= result.summary["test_accuracy"]["label"] <= 1.0
