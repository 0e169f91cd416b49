"""Shared fixtures: every test starts from the same seeds and an empty Pyro param store."""

from __future__ import annotations

import matplotlib
import pyro
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _seeded() -> None:
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
