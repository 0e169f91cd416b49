"""Evaluation in forked worker processes gives the figures of one process; bad worker counts are refused."""

from __future__ import annotations

import multiprocessing
import os
import re

import numpy as np
import pytest
import torch
from linear_gaussian import linear_vae, make_linear_gaussian, set_guide

from pyro_vae._workers import check_workers, map_batches
from pyro_vae.config import resolve_config
from pyro_vae.data import Split
from pyro_vae.errors import ConfigError
from pyro_vae.evaluation import evaluate_split


@pytest.fixture(scope="module")
def setup() -> tuple[torch.nn.Module, Split]:
    lg = make_linear_gaussian(d=6, k=2, scale=0.5, seed=0)
    vae = linear_vae(lg)
    set_guide(vae, lg, loc_shift=0.3, scale_factor=1.3)
    return vae, Split(lg.sample(45, torch.Generator().manual_seed(1)), None)


@pytest.mark.parametrize("workers", [2, 3], ids=["two", "three"])
def test_workers_give_the_figures_of_one_process(setup, workers):
    vae, split = setup
    one = evaluate_split(vae, split, samples=200, batch_size=10, seed=4, psis=True)
    many = evaluate_split(vae, split, samples=200, batch_size=10, seed=4, psis=True, workers=workers)
    assert many.log_likelihood == pytest.approx(one.log_likelihood, rel=1e-6)
    assert many.elbo == pytest.approx(one.elbo, rel=1e-6)
    np.testing.assert_allclose(many.khat, one.khat, rtol=1e-4, atol=1e-6)
    assert many.khat.shape == (45,)


def test_each_batch_has_its_own_draws_and_the_seed_changes_them(setup):
    vae, split = setup
    first = evaluate_split(vae, split, samples=50, batch_size=10, seed=0)
    assert evaluate_split(vae, split, samples=50, batch_size=10, seed=0).log_likelihood == first.log_likelihood
    assert evaluate_split(vae, split, samples=50, batch_size=10, seed=1).log_likelihood != first.log_likelihood


def test_the_global_random_state_and_training_mode_are_left_alone(setup):
    vae, split = setup
    vae.train()
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    evaluate_split(vae, split, samples=20, batch_size=10, workers=2)
    torch.testing.assert_close(torch.rand(3), expected)
    assert vae.training


def test_map_batches_keeps_the_order_and_runs_in_other_processes():
    parent = os.getpid()
    results = map_batches(lambda i: (i * i, os.getpid() != parent), count=7, workers=2)
    assert [square for square, _ in results] == [i * i for i in range(7)]
    assert all(elsewhere for _, elsewhere in results)
    assert map_batches(lambda i: os.getpid(), count=3, workers=1) == [parent] * 3


def _fails(index: int) -> int:
    if index == 2:
        raise RuntimeError("batch 2 is broken")
    return index


def test_an_error_in_a_worker_reaches_the_caller():
    with pytest.raises(RuntimeError, match="batch 2 is broken"):
        map_batches(_fails, count=4, workers=2)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"], ids=["zero", "negative", "float", "bool", "string"])
def test_worker_counts_that_are_not_positive_integers_are_refused(workers):
    with pytest.raises(ValueError, match=re.escape(f"eval.workers must be a positive integer, got {workers!r}")):
        check_workers(workers)


def test_the_config_refuses_them_too():
    with pytest.raises(ConfigError, match=re.escape("eval.workers must be a positive integer, got 0")):
        resolve_config(None, overrides=["eval.workers=0"])
    assert resolve_config(None, overrides=["eval.workers=2"]).eval.workers == 2


def test_without_fork_only_one_worker_is_allowed(monkeypatch):
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    check_workers(1)
    with pytest.raises(ValueError, match=re.escape("needs processes started by fork") + ".*set eval.workers = 1"):
        check_workers(2)


def test_a_daemonic_process_cannot_start_workers(monkeypatch):
    class Daemon:
        daemon = True

    monkeypatch.setattr(multiprocessing, "current_process", lambda: Daemon())
    with pytest.raises(ValueError, match=r"a daemonic process .* cannot start worker processes"):
        check_workers(2)
