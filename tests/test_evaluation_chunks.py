"""Evaluation draws its particles in chunks sized from the available memory, never from K."""

from __future__ import annotations

from pyro_vae.evaluation import available_memory, chunk_budget, chunk_size
from pyro_vae.evaluation.importance import MAX_CHUNK_FLOATS, MEMORY_SHARE


def test_available_memory_is_read_from_the_system():
    assert available_memory() > 0


def test_chunk_budget_takes_a_share_of_scarce_memory():
    memory = 64 * 2**20  # bytes
    assert chunk_budget(memory) == int(memory * MEMORY_SHARE) // 4


def test_chunk_budget_is_capped_when_memory_is_plentiful():
    assert chunk_budget(2**40) == MAX_CHUNK_FLOATS
    assert chunk_budget() <= MAX_CHUNK_FLOATS


def test_chunk_size_fits_the_budget_and_never_drops_to_zero():
    assert chunk_size(batch=100, floats_per_example=784, budget=2**20) == 2**20 // (100 * 784)
    assert chunk_size(batch=100, floats_per_example=784, budget=10) == 1
