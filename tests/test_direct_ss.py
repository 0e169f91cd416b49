"""The direct enumerated ELBO of the semi-supervised VAE gives TraceEnum_ELBO's value and gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pyro_vae
from pyro_vae._pyro import local_params
from pyro_vae.config import ModelConfig
from pyro_vae.data import DataShape
from pyro_vae.estimators import ESTIMATORS
from pyro_vae.estimators._direct_ss import direct_ss_applies, direct_ss_loss
from pyro_vae.ss_vae import SSVAE, build_ss_vae

# (classes per factor, labels of a 6-row batch, -1 = missing): one factor; two factors with every pattern
LABELS = {
    "one-factor": ((3,), [0, -1, 2, -1, 1, -1]),
    "two-factors": ((3, 2), [[0, -1], [-1, -1], [1, 0], [-1, 1], [2, 1], [-1, -1]]),
    "all-missing": ((4,), [-1] * 6),
    "all-known": ((4,), [3, 0, 1, 2, 0, 1]),
}


def _vae(classes: tuple[int, ...], likelihood: str, alpha: float) -> SSVAE:
    torch.manual_seed(0)
    config = ModelConfig(
        kind="ss_vae",
        z_dim=2,
        likelihood=likelihood,
        network={"name": "mlp", "hidden": [7]},
        alpha=alpha,
        features=8,
        factors=[f"f{k}" for k in range(len(classes))] if len(classes) > 1 else None,
    )
    return build_ss_vae(config, DataShape((5,), classes)).double()


def _batch(likelihood: str) -> torch.Tensor:
    x = torch.rand(6, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return torch.bernoulli(x) if likelihood == "bernoulli" else x


def _take_path(traced: bool, monkeypatch) -> list[int]:
    """Force the traced path, or count the calls of the direct loss (the returned list grows by one per call)."""
    calls: list[int] = []
    if traced:
        monkeypatch.setattr("pyro_vae.estimators.enumerate.direct_ss_applies", lambda *args: False)
        return calls

    def counted(*args: object, **kwargs: object) -> torch.Tensor:
        calls.append(1)
        return direct_ss_loss(*args, **kwargs)

    monkeypatch.setattr("pyro_vae.estimators.enumerate.direct_ss_loss", counted)
    return calls


def _loss_and_grads(vae: SSVAE, x: torch.Tensor, y: torch.Tensor, traced: bool, monkeypatch) -> tuple:
    taken = _take_path(traced, monkeypatch)
    loss_module = ESTIMATORS.build("enum", max_plate_nesting=1)(vae.model, vae.guide)
    vae.zero_grad(set_to_none=True)
    torch.manual_seed(3)
    with local_params():
        loss = loss_module(x, y, kl_weight=0.6)  # y positional, as the trainer passes it
    loss.backward()
    assert len(taken) == (0 if traced else 1)
    return loss.item(), {name: p.grad.clone() for name, p in vae.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("alpha", [0.0, 3.0], ids=["no-classifier-loss", "classifier-loss"])
@pytest.mark.parametrize("likelihood", ["bernoulli", "normal"])
@pytest.mark.parametrize("case", list(LABELS))
def test_direct_loss_matches_trace_enum_in_value_and_gradient(case, likelihood, alpha, monkeypatch):
    classes, labels = LABELS[case]
    vae = _vae(classes, likelihood, alpha)
    vae.train()
    x, y = _batch(likelihood), torch.tensor(labels)
    direct, direct_grads = _loss_and_grads(vae, x, y, traced=False, monkeypatch=monkeypatch)
    traced, traced_grads = _loss_and_grads(vae, x, y, traced=True, monkeypatch=monkeypatch)
    assert direct == pytest.approx(traced, rel=1e-10)
    assert direct_grads.keys() == traced_grads.keys()
    for name, grad in direct_grads.items():
        torch.testing.assert_close(grad, traced_grads[name], rtol=1e-8, atol=1e-10, msg=name)


def test_direct_path_is_taken_only_where_it_is_exact():
    vae = _vae((3,), "bernoulli", 1.0)
    x, y = _batch("bernoulli"), torch.tensor(LABELS["one-factor"][1])
    vae.train()
    assert direct_ss_applies(vae.model, vae.guide, (x,), {"y": y, "kl_weight": 1.0})
    assert direct_ss_applies(vae.model, vae.guide, (x, y), {"kl_weight": 1.0})
    assert not direct_ss_applies(vae.model, vae.guide, (x, y), {"y": y})
    assert not direct_ss_applies(vae.guide, vae.model, (x,), {})
    images = torch.bernoulli(torch.full((6, 1, 4, 4), 0.5))
    for term, direct in (("adversary", False), ("consistency", True)):  # the adversary is left to TraceEnum_ELBO
        config = ModelConfig(kind="ss_vae", z_dim=2, network={"name": "mlp", "hidden": [7]}, **{term: 1.0})
        other = build_ss_vae(config, DataShape((1, 4, 4), (3,)))
        other.train()
        assert direct_ss_applies(other.model, other.guide, (images,), {"y": y}) == direct
        other.eval()  # evaluation has no training-only terms
        assert direct_ss_applies(other.model, other.guide, (images,), {"y": y})


@pytest.mark.parametrize("case", ["one-factor", "two-factors"])
def test_direct_loss_with_the_consistency_term_matches_trace_enum(case, monkeypatch):
    """The consistency term draws its translations before z on both paths: same value and gradient."""
    classes, labels = LABELS[case]
    torch.manual_seed(0)
    config = ModelConfig(
        kind="ss_vae",
        z_dim=2,
        network={"name": "mlp", "hidden": [7]},
        alpha=2.0,
        consistency=5.0,
        features=8,
        factors=[f"f{k}" for k in range(len(classes))] if len(classes) > 1 else None,
    )
    vae = build_ss_vae(config, DataShape((1, 4, 4), classes)).double().train()
    assert vae.guide.auxiliary.consistency_shift == 1  # the default for 4x4 images
    x, y = torch.bernoulli(torch.full((6, 1, 4, 4), 0.4, dtype=torch.float64)), torch.tensor(labels)
    direct, direct_grads = _loss_and_grads(vae, x, y, traced=False, monkeypatch=monkeypatch)
    traced, traced_grads = _loss_and_grads(vae, x, y, traced=True, monkeypatch=monkeypatch)
    assert direct == pytest.approx(traced, rel=1e-10)
    assert direct_grads.keys() == traced_grads.keys()
    for name, grad in direct_grads.items():
        torch.testing.assert_close(grad, traced_grads[name], rtol=1e-8, atol=1e-10, msg=name)


def test_training_on_the_direct_path_reproduces_training_on_the_traced_path(monkeypatch):
    generator = np.random.default_rng(0)
    x = (generator.random((96, 12)) < 0.3).astype(np.float32)
    labels = generator.integers(0, 3, 96)
    labels[generator.random(96) < 0.7] = -1
    losses = {}
    for traced in (False, True):
        taken = _take_path(traced, monkeypatch)
        result = pyro_vae.fit(
            data=x, labels=labels, kind="ss_vae", epochs=2, eval={"samples": 5}, labelled_per_batch=4, pictures=False
        )
        losses[traced] = [row["train_elbo"] for row in result.history]
        assert (len(taken) > 0) != traced  # the first fit trained on the direct path, the second on the traced one
    np.testing.assert_allclose(losses[False], losses[True], rtol=1e-5)
