"""Batches drawn ahead in a background thread arrive in order, with the source's errors, and stop cleanly."""

from __future__ import annotations

import threading

import pytest

from pyro_vae.data import prefetch


def test_prefetch_yields_every_item_in_order():
    assert list(prefetch(iter(range(50)), depth=3)) == list(range(50))


def test_an_error_while_drawing_reaches_the_consumer_at_its_item():
    def source():
        yield 1
        yield 2
        raise ValueError("bad batch")

    seen = []
    with pytest.raises(ValueError, match="bad batch"):
        for item in prefetch(source()):
            seen.append(item)
    assert seen == [1, 2]


def test_stopping_early_stops_the_worker_thread():
    before = threading.active_count()
    stream = prefetch(iter(range(1000)), depth=2)
    assert next(stream) == 0
    stream.close()
    assert threading.active_count() == before


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        next(prefetch(iter([1]), depth=0))
