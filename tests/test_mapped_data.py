"""``.npy`` files memory-mapped and read a batch at a time train exactly like the same data in memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pyro_vae
from pyro_vae.data.files import npy_file
from pyro_vae.data.mapped import MappedRows, RowBernoulli, RowScale
from pyro_vae.errors import DataError


@pytest.fixture
def digits_file(tmp_path):
    from sklearn.datasets import load_digits

    path = tmp_path / "digits.npy"
    np.save(path, load_digits().images.astype(np.uint8))
    return path


def _fit(path, mmap):
    data = {"name": "npy", "path": str(path), "mmap": mmap, "scale": 16.0}
    return pyro_vae.fit({"data": data}, epochs=2, z_dim=2, eval={"samples": 10}, pictures=False)


def test_mapped_rows_read_what_the_array_holds():
    array = np.arange(5 * 2 * 3, dtype=np.uint8).reshape(5, 2, 3)
    rows = MappedRows.of(array).then(RowScale(2.0))
    assert rows.shape == (5, 1, 2, 3) and len(rows) == 5 and rows.dim() == 4
    expected = torch.from_numpy(array.astype(np.float32)).unsqueeze(1) / 2
    torch.testing.assert_close(rows[torch.tensor([3, 0, 4])], expected[[3, 0, 4]])
    torch.testing.assert_close(rows.take(torch.tensor([4, 1]))[0:2], expected[[4, 1]])
    torch.testing.assert_close(torch.cat(list(rows.split(2))), expected)
    assert float(rows.min()) == 0 and float(rows.max()) == 14.5


def test_row_seeded_binarization_reads_the_same_row_the_same_way():
    rows = MappedRows.of(np.full((6, 50), 0.5, dtype=np.float32)).then(RowBernoulli(seed=3))
    first, again = rows[torch.arange(6)], rows[torch.tensor([5, 4, 3, 2, 1, 0])]
    torch.testing.assert_close(first, again.flip(0))
    assert 0.2 < float(first.mean()) < 0.8


def test_training_on_a_mapped_file_matches_training_in_memory(digits_file):
    mapped, loaded = _fit(digits_file, True), _fit(digits_file, False)
    assert isinstance(mapped.data.train.x, MappedRows) and isinstance(loaded.data.train.x, torch.Tensor)
    # same split, same batches, same draws: the training bound agrees to the last bit
    assert [r["train_elbo"] for r in mapped.history] == [r["train_elbo"] for r in loaded.history]
    # the test split is binarized once per row (mapped) or in one draw (in memory): close, not equal
    assert mapped.summary["test_log_likelihood"] == pytest.approx(loaded.summary["test_log_likelihood"], abs=2.0)


def test_large_files_are_mapped_automatically(digits_file, monkeypatch):
    monkeypatch.setattr("pyro_vae.data.files.available_memory", lambda: 1000)
    assert isinstance(npy_file(str(digits_file)).x, MappedRows)
    monkeypatch.setattr("pyro_vae.data.files.available_memory", lambda: 2**40)
    assert isinstance(npy_file(str(digits_file)).x, torch.Tensor)


def test_a_mapped_file_with_a_nan_names_the_example(tmp_path):
    array = np.zeros((10000, 4), dtype=np.float32)
    array[9000, 2] = np.nan
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(DataError, match="the first is example 9000"):
        npy_file(str(tmp_path / "bad.npy"), mmap=True)


def test_mmap_must_be_a_boolean(digits_file):
    with pytest.raises(DataError, match=r"data\.mmap must be true or false"):
        npy_file(str(digits_file), mmap="yes")
