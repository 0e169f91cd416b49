"""Shared fixtures: every test starts from the same seeds and an empty Pyro param store."""

from __future__ import annotations

import os

import matplotlib
import pyro
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _seeded() -> None:
    pyro.set_rng_seed(0)
    pyro.clear_param_store()


@pytest.fixture
def device() -> str:
    """The device the device-agnostic tests run on: ``PYRO_VAE_TEST_DEVICE`` (default ``cpu``).

    ``PYRO_VAE_TEST_DEVICE=cuda pytest ...`` runs the same tests on a GPU (``benchmarks/gpu_check.sh``);
    a device this machine lacks fails the tests with pyro-vae's one-line error rather than skipping them.
    """
    from pyro_vae._device import resolve_device

    name = os.environ.get("PYRO_VAE_TEST_DEVICE", "cpu")
    resolve_device(name, "PYRO_VAE_TEST_DEVICE")
    return name
