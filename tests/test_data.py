"""Tests of the data layer: sources, loading, splitting, scaling, binarizing, support checks, batching."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from pyro_vae.config import resolve_config
from pyro_vae.data import (
    DATASETS,
    DataBundle,
    Split,
    check_support,
    csv_file,
    digits,
    image_folder,
    iterate_batches,
    load_data,
    mnist,
    npy_file,
    npz_file,
    num_batches,
    resolve_binarize,
)
from pyro_vae.errors import DataError, PyroVAEError
from pyro_vae.likelihoods import LIKELIHOODS, BernoulliLikelihood, Categorical256Likelihood

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _config(**data: Any):
    """The [data] section of a config for the in-memory ``array`` source, with ``data`` set."""
    return resolve_config(None, **{"data.name": "array", **{f"data.{k}": v for k, v in data.items()}}).data


def _load(array: Any, binarize: str = "none", labels: Any = None, **data: Any) -> DataBundle:
    return load_data(_config(**data), binarize, array=array, labels=labels)


def _indexed(n: int, width: int = 3) -> np.ndarray:
    """``n`` distinct rows: row ``i`` is all ``i``."""
    return np.repeat(np.arange(n, dtype=np.float32)[:, None], width, axis=1)


def _ids(split: Split) -> list[int]:
    return [int(v) for v in split.x[:, 0]]


def _bundle(x: torch.Tensor, binarize: str = "none", train: torch.Tensor | None = None) -> DataBundle:
    return DataBundle(
        Split(x if train is None else train, None), Split(x, None), Split(x, None), tuple(x.shape[1:]), binarize
    )


def _is_binary(x: torch.Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all())


# --------------------------------------------------------------------------- digits


def test_digits_source() -> None:
    raw = digits()
    assert raw.x.shape == (1797, 1, 8, 8)
    assert raw.x.dtype == torch.float32
    assert raw.labels is not None and raw.labels.shape == (1797,) and raw.labels.dtype == torch.int64
    assert sorted(raw.labels.unique().tolist()) == list(range(10))
    assert raw.auto_scale == 16.0
    assert float(raw.x.min()) == 0.0 and float(raw.x.max()) == 16.0
    assert raw.test_x is None


def test_digits_through_load_data() -> None:
    config = resolve_config().data
    bundle = load_data(config, "none")
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (1437, 180, 180)
    assert bundle.event_shape == (1, 8, 8) and bundle.is_image
    assert float(bundle.train.x.max()) == 1.0 and float(bundle.train.x.min()) == 0.0  # auto scale 16
    assert bundle.train.labels is not None and len(bundle.train.labels) == 1437


# --------------------------------------------------------------------------- .npy


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((6, 5), (6, 5)), ((6, 4, 3), (6, 1, 4, 3)), ((6, 3, 4, 4), (6, 3, 4, 4))],
    ids=["2d-vectors", "3d-grey-images", "4d-images"],
)
def test_npy_shapes(tmp_path: Path, shape: tuple, expected: tuple) -> None:
    values = np.random.default_rng(0).random(shape)
    np.save(tmp_path / "x.npy", values)
    raw = npy_file(str(tmp_path / "x.npy"))
    assert tuple(raw.x.shape) == expected
    assert raw.x.dtype == torch.float32 and raw.labels is None
    assert torch.allclose(raw.x.reshape(shape), torch.as_tensor(values, dtype=torch.float32))
    assert raw.auto_scale == 1.0


def test_npy_uint8_auto_scale(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.full((4, 3, 3), 255, dtype=np.uint8))
    raw = npy_file(str(tmp_path / "x.npy"))
    assert raw.auto_scale == 255.0
    assert float(raw.x.max()) == 255.0


def test_npy_through_config_and_load_data(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.full((20, 2, 2), 51, dtype=np.uint8))
    config = resolve_config(None, **{"data.name": "npy", "data.path": str(tmp_path / "x.npy")})
    bundle = load_data(config.data, "none")
    assert bundle.event_shape == (1, 2, 2)
    assert torch.allclose(bundle.train.x, torch.full_like(bundle.train.x, 0.2))


def test_npy_that_is_not_a_numpy_file(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    path.write_text("hello")
    with pytest.raises(DataError, match=re.escape("x.npy is not a NumPy .npy file")):
        npy_file(str(path))


def test_npy_of_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=re.escape("x.npy holds Python objects (dtype object)")):
        npy_file(str(path))


# --------------------------------------------------------------------------- .npz


def test_npz_with_key_and_label_key(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, images=np.ones((5, 4, 4), dtype=np.uint8), targets=np.array([0, 1, 2, 1, 0]))
    raw = npz_file(str(path), key="images", label_key="targets")
    assert raw.x.shape == (5, 1, 4, 4)
    assert raw.labels is not None and raw.labels.tolist() == [0, 1, 2, 1, 0]
    assert raw.auto_scale == 255.0


def test_npz_single_array_without_key(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, only=np.arange(12.0).reshape(4, 3))
    raw = npz_file(str(path))
    assert raw.x.shape == (4, 3) and raw.labels is None
    assert raw.x[3].tolist() == [9.0, 10.0, 11.0]


def test_npz_several_arrays_without_key_lists_them(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, a=np.ones((3, 2)), b=np.zeros(3))
    with pytest.raises(
        DataError, match=re.escape("d.npz holds arrays a, b: set data.key to the one with the examples")
    ):
        npz_file(str(path))


@pytest.mark.parametrize(
    ("key", "label_key", "option", "name"),
    [("c", None, "key", "c"), ("a", "labels", "label_key", "labels")],
    ids=["key", "label-key"],
)
def test_npz_missing_array_lists_arrays(
    tmp_path: Path, key: str, label_key: str | None, option: str, name: str
) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, a=np.ones((3, 2)), b=np.zeros(3))
    with pytest.raises(DataError, match=re.escape(f"data.{option} {name!r} is not in d.npz; its arrays are: a, b")):
        npz_file(str(path), key=key, label_key=label_key)


def test_npz_labels_of_wrong_length(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, a=np.ones((3, 2)), b=np.zeros(4))
    with pytest.raises(
        DataError, match=re.escape("array 'b' has shape (4,); expected one label per example, shape (3,)")
    ):
        npz_file(str(path), key="a", label_key="b")


def test_npz_through_config(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=_indexed(30), y=np.arange(30) % 3)
    config = resolve_config(
        None, **{"data.name": "npz", "data.path": str(path), "data.key": "x", "data.label_key": "y"}
    )
    bundle = load_data(config.data, "none")
    assert len(bundle.train) + len(bundle.val) + len(bundle.test) == 30
    assert bundle.train.labels is not None
    assert (bundle.train.labels == bundle.train.x[:, 0].long() % 3).all()


def test_npz_source_given_a_npy_file(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.ones((4, 3)))
    with pytest.raises(DataError, match="npz"):
        npz_file(str(path))


def test_npz_string_labels(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((3, 2)), y=np.array(["cat", "dog", "cat"]))
    with pytest.raises(DataError, match="labels must be integer class indices"):
        npz_file(str(path), key="x", label_key="y")


# --------------------------------------------------------------------------- .csv


def _csv(tmp_path: Path, text: str, name: str = "t.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_csv_without_header(tmp_path: Path) -> None:
    raw = csv_file(_csv(tmp_path, "1,2,3\n4,5,6\n\n7,8,9\n"))
    assert raw.x.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert raw.labels is None and raw.auto_scale == 1.0


def test_csv_with_header(tmp_path: Path) -> None:
    raw = csv_file(_csv(tmp_path, "a,b,c\n1,2,3\n4,5.5,-6\n"))
    assert raw.x.tolist() == [[1, 2, 3], [4, 5.5, -6]]


@pytest.mark.parametrize(
    ("text", "label_column"),
    [
        ("a,label,b\n1,0,2\n3,1,4\n5,2,6\n", "label"),
        (" a , label ,b\n1,0,2\n3,1,4\n5,2,6\n", "label"),
        ("1,0,2\n3,1,4\n5,2,6\n", 1),
        ("a,label,b\n1,0,2\n3,1,4\n5,2,6\n", 1),
        ("1,2,0\n3,4,1\n5,6,2\n", -1),
    ],
    ids=["by-name", "by-name-padded-header", "by-index", "by-index-with-header", "negative-index"],
)
def test_csv_label_column(tmp_path: Path, text: str, label_column: str | int) -> None:
    raw = csv_file(_csv(tmp_path, text), label_column=label_column)
    assert raw.labels is not None and raw.labels.tolist() == [0, 1, 2]
    assert raw.labels.dtype == torch.int64
    assert raw.x.shape == (3, 2)
    assert raw.x[:, 0].tolist() == [1, 3, 5]


def test_csv_delimiter(tmp_path: Path) -> None:
    raw = csv_file(_csv(tmp_path, "x;y\n1;2\n3;4\n"), delimiter=";")
    assert raw.x.tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize(
    ("text", "label_column", "pattern"),
    [
        ("1,2,3\n4,5\n", None, "t.csv: line 2 has 2 fields, expected 3"),
        ("1,2\n3,abc\n", None, "t.csv has a non-numeric value (could not convert string to float: 'abc')"),
        (
            "1,2\n3,\n",
            None,
            "table in t.csv contains 1 NaN or non-finite value(s) in 1 example(s) "
            "(the first is example 1, counting from 0)",
        ),
        ("", None, "t.csv is empty; it needs one example per row"),
        ("a,b\n", None, "t.csv has a header but no data rows"),
        ("1,2\n3,4\n", "label", "data.label_column 'label' is not a column of t.csv; it has no header row"),
        ("a,b\n1,2\n", "label", "data.label_column 'label' is not a column of t.csv; its columns are: a, b"),
        ("1,2\n3,4\n", 2, "data.label_column 2 is out of range: t.csv has 2 columns"),
        ("1,0.5\n3,1\n", 1, "label column of t.csv must be integer class labels"),
    ],
    ids=[
        "ragged-row",
        "non-numeric",
        "empty-cell-nan",
        "empty-file",
        "header-only",
        "label-name-without-header",
        "label-name-not-in-header",
        "label-index-out-of-range",
        "non-integer-labels",
    ],
)
def test_csv_errors(tmp_path: Path, text: str, label_column: str | int | None, pattern: str) -> None:
    with pytest.raises(DataError, match=re.escape(pattern)):
        csv_file(_csv(tmp_path, text), label_column=label_column)


def test_csv_bad_delimiter(tmp_path: Path) -> None:
    with pytest.raises(PyroVAEError, match="delimiter"):
        csv_file(_csv(tmp_path, "1,2\n3,4\n"), delimiter="ab")


def test_csv_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xff\xfe\x81\x00\x93\x01")
    with pytest.raises(DataError, match=re.escape("t.csv")):
        csv_file(str(path))


# --------------------------------------------------------------------------- image folder


def _images(root: Path, sizes: dict[str, list[tuple[int, int]]], mode: str = "L") -> Path:
    """Write PNGs: ``sizes`` maps a class folder to the (width, height) of each of its images."""
    for i, (cls, shapes) in enumerate(sorted(sizes.items())):
        (root / cls).mkdir(parents=True)
        for j, size in enumerate(shapes):
            color = 40 * (i + 1) if mode == "L" else (40 * (i + 1), 10, 200)
            Image.new(mode, size, color=color).save(root / cls / f"{j}.png")
    return root


@pytest.mark.parametrize(
    ("mode", "grayscale", "channels"),
    [("L", True, 1), ("L", False, 3), ("RGB", True, 1), ("RGB", False, 3)],
    ids=["grey-as-grey", "grey-as-rgb", "rgb-as-grey", "rgb-as-rgb"],
)
def test_image_folder(tmp_path: Path, mode: str, grayscale: bool, channels: int) -> None:
    root = _images(tmp_path / "imgs", {"cat": [(6, 5)] * 2, "dog": [(6, 5)] * 3}, mode)
    raw = image_folder(str(root), grayscale=grayscale)
    assert raw.x.shape == (5, channels, 5, 6)  # (N, C, H, W): PIL sizes are (width, height)
    assert raw.labels is not None and raw.labels.tolist() == [0, 0, 1, 1, 1]
    assert raw.auto_scale == 255.0
    assert raw.x.dtype == torch.float32
    if mode == "L":
        assert raw.x[0].unique().tolist() == [40.0] and raw.x[-1].unique().tolist() == [80.0]


def test_image_folder_through_load_data_scales_to_unit_interval(tmp_path: Path) -> None:
    root = _images(tmp_path / "imgs", {"a": [(4, 4)] * 10, "b": [(4, 4)] * 10})
    config = resolve_config(None, **{"data.name": "image_folder", "data.path": str(root), "data.grayscale": True})
    bundle = load_data(config.data, "none")
    assert bundle.event_shape == (1, 4, 4)
    assert float(bundle.train.x.max()) <= 1.0
    levels = torch.cat([bundle.train.x, bundle.val.x, bundle.test.x]).unique()
    assert torch.allclose(levels, torch.tensor([40.0, 80.0]) / 255)


def test_image_folder_different_sizes_need_image_size(tmp_path: Path) -> None:
    root = _images(tmp_path / "imgs", {"a": [(4, 4), (6, 6)], "b": [(4, 4)]})
    with pytest.raises(DataError, match=r"different sizes \(\(4, 4\) and \(6, 6\)\): set data.image_size"):
        image_folder(str(root), grayscale=True)


def test_image_folder_with_image_size_resizes(tmp_path: Path) -> None:
    root = _images(tmp_path / "imgs", {"a": [(4, 4), (6, 6)], "b": [(8, 3)]}, "RGB")
    raw = image_folder(str(root), image_size=[5, 7])
    assert raw.x.shape == (3, 3, 5, 7)


@pytest.mark.parametrize("image_size", [[5], [0, 5], [5, 5, 5]], ids=["one-number", "zero", "three-numbers"])
def test_image_folder_bad_image_size(tmp_path: Path, image_size: list[int]) -> None:
    root = _images(tmp_path / "imgs", {"a": [(4, 4)]})
    with pytest.raises(DataError, match=re.escape("data.image_size must be [height, width] of positive integers")):
        image_folder(str(root), image_size=image_size)


def test_image_folder_without_class_folders(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    with pytest.raises(DataError, match=r"cannot read images from .*imgs"):
        image_folder(str(tmp_path / "imgs"))


def test_image_folder_given_a_file(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    Image.new("L", (3, 3)).save(path)
    with pytest.raises(
        DataError, match="is not a folder; data source 'image_folder' reads a folder of class subfolders"
    ):
        image_folder(str(path))


def test_image_folder_corrupt_image(tmp_path: Path) -> None:
    root = _images(tmp_path / "imgs", {"a": [(4, 4)], "b": [(4, 4)]})
    (root / "b" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=re.escape("broken.png")):
        image_folder(str(root))


# --------------------------------------------------------------------------- missing files


@pytest.mark.parametrize(
    ("source", "loader", "folder"),
    [
        ("npy", npy_file, False),
        ("npz", npz_file, False),
        ("csv", csv_file, False),
        ("image_folder", image_folder, True),
    ],
    ids=["npy", "npz", "csv", "image-folder"],
)
def test_missing_path(tmp_path: Path, source: str, loader, folder: bool) -> None:
    path = tmp_path / "nothing_here"
    with pytest.raises(DataError, match=re.escape(f"data.path {str(path)!r} does not exist (data source {source!r})")):
        loader(str(path))
    with pytest.raises(DataError, match=re.escape(f"data source {source!r} needs data.path")):
        loader(None)
    if not folder:
        with pytest.raises(DataError, match=re.escape("is a folder; data source")):
            loader(str(tmp_path))


def test_missing_path_through_load_data(tmp_path: Path) -> None:
    config = resolve_config(None, **{"data.name": "csv", "data.path": str(tmp_path / "gone.csv")})
    with pytest.raises(DataError, match=re.escape("gone.csv' does not exist")):
        load_data(config.data, "none")


# --------------------------------------------------------------------------- the array source


def test_array_source_keeps_values_and_labels() -> None:
    x = _indexed(50)
    bundle = _load(x, labels=np.arange(50) % 5, val_fraction=0.2, test_fraction=0.2)
    for split in (bundle.train, bundle.val, bundle.test):
        assert split.labels is not None
        assert (split.labels == split.x[:, 0].long() % 5).all()
    assert bundle.event_shape == (3,) and not bundle.is_image


def test_array_source_accepts_a_tensor() -> None:
    bundle = _load(torch.ones(20, 2, 3, 3))
    assert bundle.event_shape == (2, 3, 3)


def test_array_source_without_array() -> None:
    with pytest.raises(DataError, match=re.escape("data source 'array' holds data passed from Python")):
        load_data(_config(), "none")


# --------------------------------------------------------------------------- splitting


@pytest.mark.parametrize(
    ("n", "val", "test", "sizes"),
    [
        (100, 0.1, 0.2, (70, 10, 20)),
        (100, 0.1, 0.1, (80, 10, 10)),
        (37, 0.3, 0.25, (17, 11, 9)),
        (10, 0.5, 0.4, (1, 5, 4)),
    ],
    ids=["100-10-20", "defaults", "37-rounding", "one-left-for-training"],
)
def test_split_sizes_follow_fractions(n: int, val: float, test: float, sizes: tuple) -> None:
    bundle = _load(_indexed(n), val_fraction=val, test_fraction=test)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == sizes


def test_splits_are_disjoint_and_cover_the_data() -> None:
    bundle = _load(_indexed(100), val_fraction=0.1, test_fraction=0.2)
    train, val, test = (set(_ids(s)) for s in (bundle.train, bundle.val, bundle.test))
    assert not (train & val) and not (train & test) and not (val & test)
    assert train | val | test == set(range(100))


def test_splits_are_deterministic_for_a_seed_and_change_with_it() -> None:
    first = _load(_indexed(100), split_seed=3)
    again = _load(_indexed(100), split_seed=3)
    other = _load(_indexed(100), split_seed=4)
    for name in ("train", "val", "test"):
        assert _ids(getattr(first, name)) == _ids(getattr(again, name))
    assert set(_ids(first.val)) != set(_ids(other.val))
    assert set(_ids(first.test)) != set(_ids(other.test))


def test_limit() -> None:
    bundle = _load(_indexed(100), limit=40, val_fraction=0.1, test_fraction=0.2)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (28, 4, 8)
    ids = _ids(bundle.train) + _ids(bundle.val) + _ids(bundle.test)
    assert len(set(ids)) == 40 and set(ids) <= set(range(100))


def test_limit_larger_than_the_data_keeps_everything() -> None:
    bundle = _load(_indexed(30), limit=1000)
    assert len(bundle.train) + len(bundle.val) + len(bundle.test) == 30


@pytest.mark.parametrize(
    ("n", "data", "pattern"),
    [
        (4, {}, "the val split would be empty: 4 examples x val_fraction 0.1 rounds to 0; raise data.val_fraction"),
        (
            8,
            {"val_fraction": 0.2, "test_fraction": 0.05},
            "the test split would be empty: 8 examples x test_fraction 0.05",
        ),
        (2, {"val_fraction": 0.4, "test_fraction": 0.4}, "no training examples left from 2 after the validation/test"),
        (1000, {"limit": 3}, "the val split would be empty: 3 examples"),
    ],
    ids=["val-empty", "test-empty", "no-training-left", "limit-too-small"],
)
def test_dataset_too_small_for_the_splits(n: int, data: dict, pattern: str) -> None:
    with pytest.raises(DataError, match=re.escape(pattern)):
        _load(_indexed(n), **data)


# --------------------------------------------------------------------------- scaling and binarizing


def test_auto_scale_of_uint8() -> None:
    x = np.random.default_rng(0).integers(0, 256, size=(40, 1, 3, 3)).astype(np.uint8)
    x[0] = 255
    bundle = _load(x, split_seed=0)
    every = torch.cat([bundle.train.x, bundle.val.x, bundle.test.x])
    assert float(every.max()) == 1.0 and float(every.min()) >= 0.0
    assert torch.allclose(
        torch.sort(every.flatten()).values, torch.sort(torch.as_tensor(x / 255.0).flatten()).values.float()
    )


def test_auto_scale_of_floats_leaves_values() -> None:
    bundle = _load(_indexed(20) * 3)
    assert float(torch.cat([bundle.train.x, bundle.val.x, bundle.test.x]).max()) == 57.0


def test_numeric_scale() -> None:
    bundle = _load(_indexed(20), scale=4)
    every = torch.cat([bundle.train.x, bundle.val.x, bundle.test.x])
    assert sorted(every[:, 0].tolist()) == [i / 4 for i in range(20)]


def test_numeric_scale_overrides_auto_scale() -> None:
    bundle = _load(np.full((20, 2), 100, dtype=np.uint8), scale=1)
    assert float(bundle.train.x.max()) == 100.0


def test_binarize_fixed_gives_zeros_and_ones_everywhere() -> None:
    x = np.random.default_rng(1).random((200, 6)).astype(np.float32)
    bundle = _load(x, "fixed")
    for split in (bundle.train, bundle.val, bundle.test):
        assert _is_binary(split.x)
        assert 0 < float(split.x.mean()) < 1
    assert bundle.binarize == "fixed"


def test_binarize_fixed_thresholds_at_one_half() -> None:
    bundle = _load(np.linspace(0, 1, 50, dtype=np.float32)[:, None].repeat(2, 1), "fixed", split_seed=0)
    none = _load(np.linspace(0, 1, 50, dtype=np.float32)[:, None].repeat(2, 1), "none", split_seed=0)
    assert torch.equal(bundle.train.x, (none.train.x > 0.5).float())


def test_binarize_dynamic_keeps_train_grey_and_binarizes_val_test() -> None:
    x = np.random.default_rng(2).random((200, 6)).astype(np.float32)
    bundle = _load(x, "dynamic")
    assert bundle.binarize == "dynamic"
    assert not _is_binary(bundle.train.x)
    assert float(bundle.train.x.min()) >= 0 and float(bundle.train.x.max()) <= 1
    assert _is_binary(bundle.val.x) and _is_binary(bundle.test.x)
    again = _load(x, "dynamic")
    assert torch.equal(bundle.val.x, again.val.x)  # drawn with the split seed


def test_binarize_none_leaves_grey_levels() -> None:
    x = np.random.default_rng(3).random((50, 4)).astype(np.float32)
    bundle = _load(x, "none")
    assert not _is_binary(bundle.val.x)


@pytest.mark.parametrize("mode", ["fixed", "dynamic"], ids=["fixed", "dynamic"])
def test_binarizing_values_outside_unit_interval(mode: str) -> None:
    x = np.random.default_rng(4).integers(0, 256, size=(50, 4)).astype(np.int64)  # int64: auto scale is 1
    with pytest.raises(DataError, match=rf"data.binarize = '{mode}' needs values in \[0, 1\].*set data.scale"):
        _load(x, mode)


# --------------------------------------------------------------------------- check_support


def _likelihood(name: str, event_shape: tuple[int, ...] = (4,)):
    return LIKELIHOODS.build(name, event_shape=event_shape)


_BINARY = torch.tensor([[0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
_UNIT = torch.tensor([[0.0, 0.25, 0.5, 1.0], [0.1, 0.2, 0.3, 0.9]])
_BYTES = torch.tensor([[0.0, 17.0, 128.0, 255.0], [3.0, 4.0, 5.0, 6.0]])
_COUNTS = torch.tensor([[0.0, 1.0, 7.0, 1000.0], [2.0, 3.0, 4.0, 5.0]])
_REAL = torch.tensor([[-3.5, 0.2, 1e6, 0.0], [1.0, -1.0, 2.0, 3.0]])


@pytest.mark.parametrize(
    ("name", "x"),
    [
        ("bernoulli", _BINARY),
        ("categorical256", _BYTES),
        ("categorical256", _BINARY),
        ("continuous_bernoulli", _UNIT),
        ("continuous_bernoulli", _BINARY),
        ("poisson", _COUNTS),
        ("normal", _REAL),
        ("laplace", _REAL),
    ],
    ids=["bernoulli", "categorical256", "categorical256-binary", "cb", "cb-binary", "poisson", "normal", "laplace"],
)
def test_check_support_accepts(name: str, x: torch.Tensor) -> None:
    check_support(_bundle(x), _likelihood(name))


@pytest.mark.parametrize(
    ("name", "x", "pattern"),
    [
        (
            "bernoulli",
            _UNIT,
            r"likelihood 'bernoulli' needs binary data \(0 or 1\), but the data has values in \[0, 1\]",
        ),
        ("bernoulli", _UNIT, r'set data.binarize = "dynamic" \(or "fixed"\)'),
        ("bernoulli", _BYTES, r"values in \[0, 255\].*data.scale.*likelihood \"categorical256\""),
        ("categorical256", _UNIT, r"needs integers in \[0, 255\], but the data has values in \[0, 1\].*data.scale = 1"),
        ("categorical256", _BYTES + 1, r"needs integers in \[0, 255\], but the data has values in \[1, 256\]"),
        ("poisson", -_COUNTS, r"'poisson' needs non-negative integers, but the data has values in \[-1000, -0\]"),
        ("poisson", _COUNTS + 0.5, r"'poisson' needs non-negative integers.*pass raw counts"),
        ("continuous_bernoulli", _UNIT * 2, r"'continuous_bernoulli' needs values in \[0, 1\].*data.scale"),
        ("continuous_bernoulli", _UNIT - 0.5, r"'continuous_bernoulli' needs values in \[0, 1\].*data.scale"),
    ],
    ids=[
        "bernoulli-grey",
        "bernoulli-grey-fix",
        "bernoulli-bytes",
        "categorical256-unit",
        "categorical256-above-255",
        "poisson-negative",
        "poisson-fractional",
        "cb-above-1",
        "cb-negative",
    ],
)
def test_check_support_rejects(name: str, x: torch.Tensor, pattern: str) -> None:
    with pytest.raises(DataError, match=pattern):
        check_support(_bundle(x), _likelihood(name))


def test_check_support_looks_at_every_split() -> None:
    bundle = DataBundle(Split(_BINARY, None), Split(_BINARY, None), Split(_UNIT, None), (4,), "none")
    with pytest.raises(DataError, match="binary data"):
        check_support(bundle, _likelihood("bernoulli"))


def test_check_support_skips_a_dynamically_binarized_train_split() -> None:
    check_support(_bundle(_BINARY, "dynamic", train=_UNIT), _likelihood("bernoulli"))
    with pytest.raises(DataError, match="binary data"):
        check_support(_bundle(_BINARY, "none", train=_UNIT), _likelihood("bernoulli"))


def test_digits_with_auto_binarize_fit_the_default_likelihoods() -> None:
    config = resolve_config()
    mode = resolve_binarize(config.data.binarize, BernoulliLikelihood)
    assert mode == "dynamic"
    bundle = load_data(config.data, mode)
    check_support(bundle, _likelihood("bernoulli", bundle.event_shape))
    assert resolve_binarize("auto", Categorical256Likelihood) == "none"
    assert resolve_binarize("fixed", BernoulliLikelihood) == "fixed"
    raw = load_data(resolve_config(None, **{"data.scale": 1}).data, "none")
    check_support(raw, _likelihood("categorical256", raw.event_shape))
    check_support(raw, _likelihood("poisson", raw.event_shape))


# --------------------------------------------------------------------------- bad arrays and labels


@pytest.mark.parametrize(
    ("value", "kind", "count", "rows", "first"),
    [(np.nan, "NaN", 2, 2, 3), (np.inf, "infinite", 2, 2, 3), (-np.inf, "infinite", 2, 2, 3)],
    ids=["nan", "inf", "minus-inf"],
)
def test_non_finite_values(value: float, kind: str, count: int, rows: int, first: int) -> None:
    x = np.ones((10, 4), dtype=np.float32)
    x[3, 1] = value
    x[7, 0] = value
    message = (
        f"data contains {count} {kind} or non-finite value(s) in {rows} example(s) "
        f"(the first is example {first}, counting from 0)"
    )
    with pytest.raises(DataError, match=re.escape(message) + ": remove those examples or impute"):
        _load(x)


def test_non_finite_values_counted_per_example() -> None:
    x = np.ones((10, 2, 3, 3), dtype=np.float32)
    x[5, 0, 0, 0] = x[5, 1, 2, 2] = np.nan
    with pytest.raises(
        DataError,
        match=re.escape("2 NaN or non-finite value(s) in 1 example(s) (the first is example 5, counting from 0)"),
    ):
        _load(x)


@pytest.mark.parametrize(
    ("x", "pattern"),
    [
        (np.zeros((0, 4)), "data is empty (shape (0, 4)); it needs at least one example"),
        (np.zeros((0, 4, 4)), "data is empty (shape (0, 1, 4, 4))"),
        (np.arange(5.0), "data has shape (5,); expected (N, D) vectors, (N, H, W) grey images or (N, C, H, W) images"),
        (np.float32(3.0), "data has shape (); expected"),
        (np.zeros((2, 1, 3, 3, 3)), "data has shape (2, 1, 3, 3, 3); expected (N, D) vectors"),
        (np.zeros((3, 0)), "data has shape (3, 0) with a zero-sized dimension"),
        (np.array([["a", "b"], ["c", "d"]]), "data has dtype <U1, expected real numbers"),
        ([[1.0, 2.0], [3.0]], "data is not a numeric array"),
        (np.zeros((3, 2), dtype=np.complex64), "data has dtype complex64, expected real numbers"),
    ],
    ids=["empty", "empty-images", "1d", "scalar", "5d", "zero-width", "strings", "ragged-list", "complex"],
)
def test_bad_arrays(x: Any, pattern: str) -> None:
    with pytest.raises(DataError, match=re.escape(pattern)):
        _load(x)


def test_uint16_array_is_accepted() -> None:
    bundle = _load(np.full((20, 3), 1000, dtype=np.uint16))
    assert float(bundle.train.x.max()) > 0


@pytest.mark.parametrize(
    ("labels", "pattern"),
    [
        (np.arange(19), "labels has shape (19,); expected one label per example, shape (20,)"),
        (np.zeros((20, 2, 2)), "labels has shape (20, 2, 2); expected one label per example, shape (20,)"),
        (np.arange(20) + 0.5, "labels must be integer class labels; found non-integer values"),
        (np.r_[np.arange(19.0), np.nan], "labels must be integer class labels; found non-integer values"),
        (np.arange(20) - 3, "labels must be class indices 0, 1, 2, ... or -1 for missing; found -3"),
    ],
    ids=["too-short", "three-dimensional", "fractional", "nan", "below-missing"],
)
def test_bad_labels(labels: Any, pattern: str) -> None:
    with pytest.raises(DataError, match=re.escape(pattern)):
        _load(_indexed(20), labels=labels)


def test_float_labels_holding_integers_are_accepted() -> None:
    bundle = _load(_indexed(20), labels=np.arange(20, dtype=np.float64) % 4)
    assert bundle.train.labels is not None and bundle.train.labels.dtype == torch.int64


def test_string_labels() -> None:
    with pytest.raises(DataError, match="labels"):
        _load(_indexed(4), labels=["cat", "dog", "cat", "dog"], val_fraction=0.25, test_fraction=0.25)


# --------------------------------------------------------------------------- MNIST


def test_mnist_missing_files(tmp_path: Path) -> None:
    folder = tmp_path / "MNIST" / "raw"
    config = resolve_config(None, **{"data.name": "mnist", "data.root": str(tmp_path)})
    with pytest.raises(DataError) as info:
        load_data(config.data, "dynamic")
    message = str(info.value)
    assert f"MNIST not found under {folder}" in message
    assert "data.download = true" in message
    assert "point data.root at the folder that holds MNIST/" in message


def test_mnist_download_failure_says_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    calls = []

    def offline(**kwargs: Any) -> None:
        calls.append(kwargs)
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DataError) as info:
        mnist(root=str(tmp_path), download=True)
    message = str(info.value)
    assert calls and calls[0]["download"] is True
    assert f"could not download MNIST to {tmp_path / 'MNIST' / 'raw'}" in message
    assert "Error downloading train-images-idx3-ubyte.gz" in message
    assert "this machine may be offline" in message
    assert "set data.download = false" in message


def test_fashion_mnist_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=re.escape(f"FashionMNIST not found under {tmp_path / 'FashionMNIST' / 'raw'}")):
        DATASETS.build({"name": "fashion_mnist", "root": str(tmp_path)})


@pytest.mark.skipif(
    not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").exists(), reason="no MNIST under shared/data"
)
def test_mnist_from_shared_data() -> None:
    import torchvision.datasets

    config = resolve_config(None, **{"data.name": "mnist", "data.root": str(SHARED_DATA), "data.limit": 500})
    bundle = load_data(config.data, "none")
    assert bundle.event_shape == (1, 28, 28)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (450, 50, 500)
    every = torch.cat([bundle.train.x, bundle.val.x, bundle.test.x])
    assert float(every.min()) == 0.0 and float(every.max()) == 1.0
    # the test split is the official one: its images are rows of MNIST's test file, not of the training file
    official = torchvision.datasets.MNIST(root=str(SHARED_DATA), train=False, download=False)
    test_rows = {bytes(im.numpy()) for im in official.data}
    assert all(bytes((im[0] * 255).round().to(torch.uint8).numpy()) in test_rows for im in bundle.test.x)
    train_rows = {bytes((im[0] * 255).round().to(torch.uint8).numpy()) for im in bundle.train.x}
    assert len(train_rows - test_rows) > 400
    assert bundle.test.labels is not None and set(bundle.test.labels.tolist()) <= set(range(10))


# --------------------------------------------------------------------------- batches


def _split(n: int) -> Split:
    return Split(torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 2), torch.arange(n))


def test_batches_cover_every_example_once_in_order_without_generator() -> None:
    batches = list(iterate_batches(_split(10), 4))
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    assert torch.cat([x[:, 0] for x, _ in batches]).tolist() == list(range(10))
    assert num_batches(10, 4) == 3 and num_batches(8, 4) == 2


def test_shuffled_batches_cover_every_example_once() -> None:
    batches = list(iterate_batches(_split(50), 16, generator=torch.Generator().manual_seed(0)))
    assert [len(x) for x, _ in batches] == [16, 16, 16, 2]
    seen = torch.cat([x[:, 0] for x, _ in batches]).long().tolist()
    assert sorted(seen) == list(range(50))
    assert seen != list(range(50))
    for x, labels in batches:
        assert labels is not None and torch.equal(x[:, 0].long(), labels)


def test_shuffling_is_deterministic_for_a_seed() -> None:
    def order(seed: int) -> list[int]:
        gen = torch.Generator().manual_seed(seed)
        return torch.cat([x[:, 0] for x, _ in iterate_batches(_split(50), 7, generator=gen)]).long().tolist()

    assert order(1) == order(1)
    assert order(1) != order(2)


def test_batches_without_labels() -> None:
    batches = list(iterate_batches(Split(torch.ones(5, 3), None), 2))
    assert [labels for _, labels in batches] == [None, None, None]


def test_dynamic_binarization_in_batches() -> None:
    split = Split(torch.full((400, 5), 0.5), None)
    first = torch.cat([x for x, _ in iterate_batches(split, 64, torch.Generator().manual_seed(0), True)])
    second = torch.cat([x for x, _ in iterate_batches(split, 64, torch.Generator().manual_seed(1), True)])
    assert _is_binary(first) and first.shape == (400, 5)
    assert 0.4 < float(first.mean()) < 0.6
    assert not torch.equal(first, second)  # fresh draws each epoch
    assert float(split.x.max()) == 0.5  # the stored grey levels are untouched


def test_dynamic_binarization_keeps_zeros_and_ones() -> None:
    split = Split(torch.tensor([[0.0, 1.0]] * 30), None)
    x = torch.cat([b for b, _ in iterate_batches(split, 8, torch.Generator().manual_seed(0), True)])
    assert torch.equal(x, split.x)


def test_labels_may_have_several_factors_and_missing_entries() -> None:
    labels = np.stack([np.arange(20) % 4, np.where(np.arange(20) % 3 == 0, -1, np.arange(20) % 2)], axis=1)
    bundle = _load(_indexed(20), labels=labels, val_fraction=0.25, test_fraction=0.25)
    assert bundle.train.labels.shape == (10, 2)
    assert bundle.shape.classes == (4, 2)
    assert bundle.shape.event_shape == (3,)


def test_data_labels_keeps_a_balanced_seeded_subset() -> None:
    labels = np.arange(200) % 5
    kept = _load(_indexed(200), labels=labels)
    assert (kept.train.labels >= 0).all()
    bundle = load_data(_config(labels=10), "none", array=_indexed(200), labels=labels)
    known = bundle.train.labels[bundle.train.labels >= 0]
    assert torch.bincount(known).tolist() == [2, 2, 2, 2, 2]
    assert (bundle.val.labels >= 0).all() and (bundle.test.labels >= 0).all()
    again = load_data(_config(labels=10), "none", array=_indexed(200), labels=labels)
    assert torch.equal(again.train.labels, bundle.train.labels)
    other = load_data(_config(labels=10, split_seed=1), "none", array=_indexed(200), labels=labels)
    assert not torch.equal(other.train.x[other.train.labels >= 0], bundle.train.x[bundle.train.labels >= 0])


@pytest.mark.parametrize(
    ("kept", "labels", "pattern"),
    [
        (3, np.arange(200) % 5, "cannot cover the 5 classes: keep at least 5"),
        (200, np.arange(200) % 5, "needs 40 training examples of class 0"),
        (10, None, "this data has no labels"),
    ],
    ids=["fewer-than-classes", "more-than-available", "no-labels"],
)
def test_data_labels_errors(kept, labels, pattern) -> None:
    with pytest.raises(DataError, match=re.escape(pattern)):
        load_data(_config(labels=kept), "none", array=_indexed(200), labels=labels)
