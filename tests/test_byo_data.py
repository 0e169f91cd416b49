"""Issue 16, "Data in": torch datasets, loaders and streams as ``fit(data=...)``, held-out objects, resume.

Every form fits a few epochs on tiny data. Where a form holds the same examples as an array,
the fit must give the array's figures exactly (same seed, same split); streams, which are read in
their own order, are checked for what they must keep (every example of an epoch, the held-out
objects as the validation and test splits, a resume that asks for the same objects).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset
from torchvision.datasets import FakeData
from torchvision.transforms import ToTensor

import pyro_vae
from pyro_vae.errors import DataError

TINY = {"epochs": 2, "model.network.hidden": [16], "eval.samples": 5, "data.binarize": "none"}
TINY_CB = {**TINY, "likelihood": "continuous_bernoulli"}


def _images(n: int = 120, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 6, 6, generator=gen), torch.randint(0, 3, (n,), generator=gen)


class DictItems(Dataset):
    """Items ``{"x": (H, W), "label": int or None}``: every third label missing."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i, 0], "label": None if i % 3 == 0 else int(self.y[i])}


class Stream(IterableDataset):
    """Items ``(x, label)`` in order; counts how many passes were started."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        self.x, self.y, self.passes = x, y, 0

    def __iter__(self):
        self.passes += 1
        for i in range(len(self.x)):
            yield self.x[i] if self.y is None else (self.x[i], int(self.y[i]))


# -- map-style datasets: the same figures as the array ------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda x, y: TensorDataset(x), id="tensor-dataset-1-tuples"),
        pytest.param(lambda x, y: TensorDataset(x, y), id="tuple-items"),
    ],
)
def test_dataset_fits_like_the_array(make) -> None:
    x, y = _images()
    data = make(x, y)
    ours = pyro_vae.fit(data=data, **TINY_CB)
    array = pyro_vae.fit(data=x, labels=y if len(data[0]) == 2 else None, **TINY_CB)
    assert ours.config.data.name == "dataset"
    assert "TensorDataset of 120 items" in ours.config.data.source_options["origin"]
    assert ours.summary["test_elbo"] == pytest.approx(array.summary["test_elbo"], abs=1e-5)
    assert ours.summary["test_log_likelihood"] == pytest.approx(array.summary["test_log_likelihood"], abs=1e-5)
    assert ours.data.shape == array.data.shape


def test_dict_items_with_missing_labels_train_the_semi_supervised_kind() -> None:
    x, y = _images()
    result = pyro_vae.fit(data=DictItems(x, y), kind="ss_vae", **TINY_CB)
    labels = torch.cat([s.labels for s in (result.data.train, result.data.val, result.data.test)])
    assert result.data.event_shape == (1, 6, 6)  # (H, W) items are grey images
    assert int((labels == -1).sum()) == 40  # None -> -1: every third of 120
    assert sorted(labels[labels >= 0].unique().tolist()) == [0, 1, 2]
    assert 0.0 <= result.summary["test_accuracy"]["label"] <= 1.0


@pytest.mark.parametrize(
    "channels, transform, scale",
    [pytest.param(1, ToTensor(), 1.0, id="grey-ToTensor"), pytest.param(3, None, 255.0, id="rgb-PIL-images")],
)
def test_torchvision_dataset(channels, transform, scale, recwarn) -> None:
    data = FakeData(size=50, image_size=(channels, 8, 8), num_classes=4, transform=transform)
    result = pyro_vae.fit(data=data, **TINY_CB)
    assert not [w for w in recwarn if "channels-last" in str(w.message)]  # PIL images are known to be (H, W, C)
    first = np.asarray(data[0][0], dtype=np.float32)
    first = first if transform is not None else first.transpose(2, 0, 1)  # PIL: (H, W, C) read as (C, H, W)
    assert result.data.event_shape == (channels, 8, 8)
    assert len(result.data.train) + len(result.data.val) + len(result.data.test) == 50
    held = torch.cat([result.data.train.x, result.data.val.x, result.data.test.x])
    assert bool((held - torch.from_numpy(first / scale)).flatten(1).abs().amax(1).min() < 1e-6)  # item 0, scaled
    assert result.data.shape.classes[0] <= 4
    assert math.isfinite(result.summary["test_log_likelihood"])


# -- held-out objects ---------------------------------------------------------------------------


def test_val_and_test_objects_replace_the_carved_splits() -> None:
    x, y = _images()
    result = pyro_vae.fit(
        data=x[:80], labels=y[:80], val_data=TensorDataset(x[80:100], y[80:100]), test_data=x[100:], **TINY_CB
    )
    assert len(result.data.train) == 80
    assert torch.equal(result.data.val.x, x[80:100]) and torch.equal(result.data.val.labels, y[80:100])
    assert torch.equal(result.data.test.x, x[100:])
    assert bool((result.data.test.labels == -1).all())  # unlabelled beside labelled: missing
    assert result.summary["n_test"] == 20


def test_held_out_objects_need_python_data() -> None:
    with pytest.raises(pyro_vae.ConfigError, match="val_data= and test_data= go with training data passed as"):
        pyro_vae.fit(val_data=torch.rand(5, 4), **TINY)


# -- streams ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda x, y: Stream(x, y), id="IterableDataset"),
        pytest.param(lambda x, y: DataLoader(TensorDataset(x, y), batch_size=7), id="DataLoader"),
        pytest.param(
            lambda x, y: DataLoader(TensorDataset(x, y), batch_size=16, num_workers=2), id="DataLoader-2-workers"
        ),
    ],
)
def test_stream_fits_with_held_out_objects(make, tmp_path) -> None:
    x, y = _images(150)
    train = make(x[:100], y[:100])
    result = pyro_vae.fit(
        data=train,
        val_data=TensorDataset(x[100:125], y[100:125]),
        test_data=DataLoader(TensorDataset(x[125:]), batch_size=10),
        out=tmp_path / "run",
        pictures=False,
        **{**TINY_CB, "batch_size": 32},
    )
    assert result.config.data.name == "stream"
    assert (result.summary["n_train"], result.summary["n_val"], result.summary["n_test"]) == (100, 25, 25)
    assert torch.equal(result.data.val.x, x[100:125]) and torch.equal(result.data.test.x, x[125:])
    assert result.data.shape.classes == (3,)  # counted on the survey pass
    assert len(result.history) == 2 and all(math.isfinite(row["train_elbo"]) for row in result.history)


def test_stream_rebatches_to_the_batch_size_and_reads_every_example() -> None:
    from pyro_vae.data import TrainingBatches

    x, y = _images(100)
    result = pyro_vae.fit(
        data=DataLoader(TensorDataset(x, y), batch_size=7),
        val_data=x[:10],
        test_data=x[:10],
        **{**TINY_CB, "epochs": 1},
    )
    batches = list(TrainingBatches(result.data.train, 32))
    assert [len(b) for b, _ in batches] == [32, 32, 32, 4] and len(TrainingBatches(result.data.train, 32)) == 4
    assert torch.equal(torch.cat([b for b, _ in batches]), x)  # in the stream's order, nothing lost or repeated
    assert torch.equal(torch.cat([labels for _, labels in batches]), y)


@pytest.mark.parametrize("binarize", ["fixed", "dynamic"])
def test_stream_binarized(binarize) -> None:
    from pyro_vae.data import TrainingBatches

    x, y = _images(64)
    result = pyro_vae.fit(data=Stream(x, y), val_data=x[:10], test_data=x[:10], **{**TINY, "data.binarize": binarize})
    draw = torch.Generator().manual_seed(1)  # not 0: _images drew x from seed 0, and U < U is never true
    batches = TrainingBatches(result.data.train, 16, generator=draw, dynamic_binarize=binarize == "dynamic")
    drawn = torch.cat([b for b, _ in batches])
    assert set(drawn.unique().tolist()) == {0.0, 1.0}
    if binarize == "fixed":
        assert torch.equal(drawn, (x > 0.5).float())
    else:  # a fresh Bernoulli(p) draw per value: mean near the grey levels' mean
        assert abs(float(drawn.mean()) - float(x.mean())) < 0.04  # 4 standard errors of 2,304 draws


def test_stream_limit_keeps_its_first_examples() -> None:
    x, y = _images(100)
    stream = Stream(x, y)
    result = pyro_vae.fit(data=stream, val_data=x[:10], test_data=x[:10], **{**TINY_CB, "epochs": 1, "data.limit": 40})
    assert result.summary["n_train"] == 40
    assert torch.equal(torch.cat([b for b, _ in result.data.train.x.batches()]), x[:40])


def test_loader_of_items_with_missing_labels_needs_our_collate() -> None:
    from pyro_vae.data import collate_items

    x, y = _images(60)
    held = {"val_data": x[:10], "test_data": x[:10]}
    with pytest.raises(DataError, match=r"reading batch 0 of the training stream failed \(TypeError: .*collate_items"):
        pyro_vae.fit(data=DataLoader(DictItems(x, y), batch_size=16), **held, **TINY_CB)
    result = pyro_vae.fit(data=DataLoader(DictItems(x, y), batch_size=16, collate_fn=collate_items), **held, **TINY_CB)
    assert int((result.data.train.labels == -1).sum()) == 20 and result.data.train.x.shape[1:] == (1, 6, 6)


def test_stream_semi_supervised_labels_from_the_stream() -> None:
    x, y = _images(100)
    y = torch.where(torch.arange(100) % 2 == 0, y, torch.full_like(y, -1))
    result = pyro_vae.fit(
        data=Stream(x, y), val_data=TensorDataset(x[:20], y[:20]), test_data=x[20:40], kind="ss_vae", **TINY_CB
    )
    assert result.data.shape.classes == (3,)
    assert int((result.data.train.labels == -1).sum()) == 50
    assert len(result.history) == 2


@pytest.mark.parametrize(
    "keywords, match",
    [
        pytest.param(
            {"test_data": "x"}, "pass the validation and test examples as their own objects", id="no-val-data"
        ),
        pytest.param(
            {"val_data": "x", "test_data": "x", "data.labels": 5},
            "a stream gives its labels as they are",
            id="data.labels",
        ),
        pytest.param(
            {"val_data": "x", "test_data": "x", "kind": "group_vae"}, "trains on groups drawn from all", id="group-kind"
        ),
        pytest.param(
            {"val_data": "x", "test_data": "x", "labels": np.zeros(60)}, "labels come from the stream", id="labels="
        ),
    ],
)
def test_stream_refusals(keywords, match, tmp_path) -> None:
    x, y = _images(60)
    keywords = {k: (x[:10] if isinstance(v, str) and v == "x" else v) for k, v in keywords.items()}
    with pytest.raises(DataError, match=match):
        pyro_vae.fit(data=Stream(x, y), out=tmp_path / "run", **{**TINY_CB, **keywords})
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


# -- bad items: one line naming the item and the shapes -----------------------------------------


class Items(Dataset):
    def __init__(self, items: list) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


_OK = torch.zeros(1, 4, 4)


@pytest.mark.parametrize(
    "items, match",
    [
        pytest.param(
            [_OK] * 5 + [torch.zeros(1, 5, 4)],
            r"item 5 of the dataset has x of shape \(1, 5, 4\), but item 0 has \(1, 4, 4\)",
            id="shape-changes",
        ),
        pytest.param(
            [torch.zeros(2, 1, 4, 4)] * 6,
            r"item 0 of the dataset has x of shape \(2, 1, 4, 4\); expected \(D,\) vectors",
            id="rank-4-item",
        ),
        pytest.param([torch.tensor(1.0)] * 6, r"has x of shape \(\); expected", id="scalar-item"),
        pytest.param([(_OK, 1, 2)] * 6, "item 0 of the dataset is a tuple of 3 parts", id="3-tuple"),
        pytest.param([{"image": _OK}] * 6, r"is a dict with keys \['image'\]; expected", id="dict-without-x"),
        pytest.param([("text", 1)] * 6, "x is str of dtype", id="text-item"),
        pytest.param([(_OK, 0.5)] * 6, "labels must be class indices", id="fractional-label"),
        pytest.param(
            [(_OK, 1)] * 3 + [(_OK, torch.tensor([1, 2]))] * 3, "labels of different shapes", id="label-shapes"
        ),
        pytest.param([], "is empty", id="empty"),
    ],
)
def test_bad_items(items, match) -> None:
    with pytest.raises(DataError, match=match) as err:
        pyro_vae.fit(data=Items(items), **TINY)
    assert "\n" not in str(err.value)


def test_a_bad_item_is_refused_before_the_rest_is_read() -> None:
    class Counting(Items):
        reads = 0

        def __getitem__(self, i: int):
            Counting.reads += 1
            return super().__getitem__(i)

    with pytest.raises(DataError, match="item 2 of the dataset has x of shape"):
        pyro_vae.fit(data=Counting([_OK, _OK, torch.zeros(3)] + [_OK] * 1000), **TINY)
    assert Counting.reads == 3


def test_bad_stream_batch_shape() -> None:
    class Changing(IterableDataset):
        def __iter__(self):
            for i in range(40):
                yield torch.zeros(1, 4, 4) if i < 30 else torch.zeros(1, 4, 5)

    with pytest.raises(
        DataError, match=r"batch 1 of the training stream has examples of shape \(1, 4, 5\), but batch 0"
    ):
        pyro_vae.fit(data=DataLoader(Changing(), batch_size=30), val_data=_OK[None], test_data=_OK[None], **TINY)


# -- a run fitted on Python objects: what it records and what a resume asks for ----------------


def test_resume_asks_for_the_same_dataset(tmp_path) -> None:
    x, y = _images()
    run = tmp_path / "run"
    pyro_vae.fit(data=TensorDataset(x, y), out=run, pictures=False, **{**TINY_CB, "epochs": 1})
    assert 'origin = "data: torch.utils.data.dataset.TensorDataset of 120 items"' in (run / "config.toml").read_text()
    with pytest.raises(
        DataError, match=r"holds a Python object \(data: torch.utils.data.dataset.TensorDataset of 120 items\)"
    ):
        pyro_vae.resume(run, overrides=["train.epochs=2"])
    with pytest.raises(
        DataError, match=r"the run was fitted on data: .*TensorDataset of 120 items, but got .*of 100 items"
    ):
        pyro_vae.resume(run, data=TensorDataset(x[:100], y[:100]), overrides=["train.epochs=2"])
    resumed = pyro_vae.resume(run, data=TensorDataset(x, y), overrides=["train.epochs=2"])
    straight = pyro_vae.fit(data=TensorDataset(x, y), **TINY_CB)
    assert resumed.summary["test_elbo"] == pytest.approx(straight.summary["test_elbo"], abs=1e-4)


def test_resume_of_a_stream_asks_for_the_held_out_objects_too(tmp_path) -> None:
    x, y = _images(80)
    run = tmp_path / "run"
    kwargs = {"val_data": TensorDataset(x[:20]), "test_data": TensorDataset(x[20:40])}
    pyro_vae.fit(data=Stream(x, y), out=run, pictures=False, **kwargs, **{**TINY_CB, "epochs": 1})
    with pytest.raises(
        DataError, match=r"val_data: .*TensorDataset of 20 items.*, but got data: test_byo_data.Stream:"
    ):
        pyro_vae.resume(run, data=Stream(x, y), overrides=["train.epochs=2"])
    result = pyro_vae.resume(run, data=Stream(x, y), overrides=["train.epochs=2"], **kwargs)
    assert result.summary["epochs"] == 2
    assert pyro_vae.evaluate(run, data=Stream(x, y), **kwargs)["n_test"] == 20
