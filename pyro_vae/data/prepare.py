"""From a data source to train/validation/test tensors ready for a likelihood."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from pyro_vae._device import fits_on
from pyro_vae.data._registry import DATASETS, RawData
from pyro_vae.data.labels import keep_labels
from pyro_vae.data.mapped import MappedRows, RowBernoulli, RowThreshold, chunks, scaled, take_rows, value_bounds
from pyro_vae.data.stream import StreamedRows
from pyro_vae.errors import DataError
from pyro_vae.kinds import DataShape
from pyro_vae.likelihoods import Likelihood, value_range

if TYPE_CHECKING:
    from pyro_vae.config import DataConfig
    from pyro_vae.data.features import FittedEncoder

__all__ = ["DataBundle", "Split", "binarize_fixed", "check_support", "load_data", "resolve_binarize"]


@dataclass
class Split:
    """Examples of one split, their labels (``None`` if unlabelled) and, optionally, a noise scale.

    With ``noise`` (same shape as ``x``) the training batches are drawn as
    ``x + noise * eps``, ``eps ~ N(0, 1)``, afresh every epoch: features taken
    from a VAE's ``q(z | x)`` are then resampled like dynamically binarized pixels.
    ``x`` may be rows of a memory-mapped file (:class:`MappedRows`), read a batch at a time, or a
    stream (:class:`StreamedRows`, training only) read in order; a stream's ``labels`` are those of its
    survey pass, for counting classes only.
    """

    x: Tensor | MappedRows | StreamedRows
    labels: Tensor | None
    noise: Tensor | None = None
    #: where batches are delivered (``None``: where ``x`` lives); set by :meth:`to` when ``x`` stays on the host
    device: torch.device | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def storage(self) -> torch.device:
        """Where the examples are kept (mapped rows: read into host memory)."""
        return self.x.device if isinstance(self.x, Tensor) else torch.device("cpu")

    @property
    def batch_device(self) -> torch.device:
        """Where the batches drawn from this split are computed on."""
        return self.storage if self.device is None else self.device

    def take(self, index: Tensor) -> Split:
        """The examples at ``index``."""
        labels, noise = (None if t is None else t[index.to(t.device)] for t in (self.labels, self.noise))
        return Split(take_rows(self.x, index.to(self.storage)), labels, noise, self.device)

    def to(self, device: torch.device) -> Split:
        """The split with its batches computed on ``device``.

        Its tensors move there when they fit (:func:`~pyro_vae._device.fits_on`); otherwise they
        stay on the host and each batch is copied over as it is drawn.
        """
        tensors = [t for t in (self.x, self.labels, self.noise) if isinstance(t, Tensor)]
        if not isinstance(self.x, Tensor) or not fits_on(device, sum(t.nbytes for t in tensors)):
            return replace(self, device=device)
        labels, noise = (None if t is None else t.to(device) for t in (self.labels, self.noise))
        return Split(self.x.to(device), labels, noise)


@dataclass
class DataBundle:
    """Prepared data: three splits, the shape of one example and how training data is binarized.

    With ``binarize == "dynamic"`` the training split holds grey levels in
    ``[0, 1]`` that the batch loader resamples as Bernoulli draws each epoch;
    the validation and test splits were binarized once, with a fixed seed.
    """

    train: Split
    val: Split
    test: Split
    event_shape: tuple[int, ...]
    binarize: str

    def to(self, device: torch.device) -> DataBundle:
        """The bundle with every split's batches computed on ``device`` (see :meth:`Split.to`)."""
        return replace(self, train=self.train.to(device), val=self.val.to(device), test=self.test.to(device))

    @property
    def is_image(self) -> bool:
        """Whether examples are images ``(C, H, W)``."""
        return len(self.event_shape) == 3

    @property
    def shape(self) -> DataShape:
        """One example's shape and, per label factor, the number of classes (largest label + 1)."""
        labels = [s.labels for s in (self.train, self.val, self.test) if s.labels is not None]
        if not labels:
            return DataShape(self.event_shape)
        columns = torch.cat([y.reshape(len(y), -1) for y in labels])
        return DataShape(self.event_shape, tuple(int(c) + 1 for c in columns.max(0).values))


def resolve_binarize(mode: str, likelihood: type[Likelihood]) -> str:
    """``"auto"`` becomes the default of the likelihood class; other modes pass through."""
    return likelihood.binarize_default if mode == "auto" else mode


def binarize_fixed(x: Tensor) -> Tensor:
    """Threshold at 0.5."""
    return (x > 0.5).to(x.dtype)


def _limit(split: Split, limit: int, gen: torch.Generator) -> Split:
    """``limit`` examples drawn at random (0: all); a stream's source kept its first ``limit`` already."""
    if limit and limit < len(split) and not isinstance(split.x, StreamedRows):
        split = split.take(torch.randperm(len(split), generator=gen)[:limit])
    return split


def _sizes(n: int, fractions: tuple[float, ...], names: tuple[str, ...]) -> list[int]:
    sizes = [round(n * f) for f in fractions]
    for size, fraction, name in zip(sizes, fractions, names, strict=True):
        if size < 1:
            raise DataError(
                f"the {name} split would be empty: {n} examples x {name}_fraction {fraction:g} rounds to 0; "
                f"raise data.{name}_fraction or provide more examples"
            )
    if n - sum(sizes) < 1:
        raise DataError(
            f"no training examples left from {n} after the validation/test splits; "
            "lower data.val_fraction / data.test_fraction or provide more examples"
        )
    return sizes


def _split(raw: RawData, config: DataConfig, gen: torch.Generator) -> tuple[Split, Split, Split]:
    """Train, validation and test splits: the source's own held-out splits, the rest carved from its pool.

    A streamed pool (:class:`StreamedRows`) cannot be carved: its source must give both held-out splits.
    """
    pool = _limit(Split(raw.x, raw.labels, raw.noise), config.limit, gen)
    given = {
        name: _limit(Split(x, y), config.limit, gen)
        for name, x, y in (("val", raw.val_x, raw.val_labels), ("test", raw.test_x, raw.test_labels))
        if x is not None
    }
    carve = tuple(name for name in ("val", "test") if name not in given)
    if not carve:
        return pool, given["val"], given["test"]
    fractions = {"val": config.val_fraction, "test": config.test_fraction}
    sizes = dict(zip(carve, _sizes(len(pool), tuple(fractions[n] for n in carve), carve), strict=True))
    order = torch.randperm(len(pool), generator=gen)
    n_val = sizes.get("val", 0)
    n_test = sizes.get("test", 0)
    val = given["val"] if "val" in given else pool.take(order[:n_val])
    test = given["test"] if "test" in given else pool.take(order[n_val : n_val + n_test])
    return pool.take(order[n_val + n_test :]), val, test


def _missing_labels(*splits: Split) -> tuple[Split, ...]:
    """Splits without labels beside labelled ones get ``-1`` (missing) in every factor; else as they are."""
    known = next((s.labels for s in splits if s.labels is not None), None)
    if known is None:
        return splits
    return tuple(
        s if s.labels is not None else replace(s, labels=torch.full((len(s), *known.shape[1:]), -1)) for s in splits
    )


def _binarize(split: Split, mode: str, gen: torch.Generator) -> Split:
    if not isinstance(split.x, Tensor):
        transform = RowThreshold() if mode == "fixed" else RowBernoulli(int(torch.randint(2**62, (1,), generator=gen)))
        return replace(split, x=split.x.then(transform))
    if mode == "fixed":
        return replace(split, x=binarize_fixed(split.x))
    return replace(split, x=torch.bernoulli(split.x, generator=gen))


def _scaled(split: Split, scale: float) -> Split:
    noise = None if split.noise is None else split.noise / scale
    return replace(split, x=scaled(split.x, scale), noise=noise) if scale != 1 else split


def _check_unit_interval(x: Tensor | MappedRows, mode: str) -> None:
    lo, hi = value_bounds(x)
    if lo < 0 or hi > 1:
        raise DataError(
            f"data.binarize = {mode!r} needs values in [0, 1], but the data has {value_range(x)}: "
            'set data.scale (e.g. data.scale = 255 for 8-bit pixels), or set data.binarize = "none" and '
            'a likelihood that fits these values (model.likelihood = "poisson" for counts, "normal" for reals)'
        )


def load_data(
    config: DataConfig,
    binarize: str,
    array: Any = None,
    labels: Any = None,
    open_run: Callable[[str], FittedEncoder] | None = None,
    val: Any = None,
    test: Any = None,
) -> DataBundle:
    """Load, scale, split and binarize the data ``config`` describes.

    Parameters
    ----------
    config
        The ``[data]`` section.
    binarize
        ``"none"``, ``"fixed"`` or ``"dynamic"`` (``config.binarize`` with
        ``"auto"`` resolved by :func:`resolve_binarize`).
    array, labels
        In-memory examples and labels for the ``array`` source; a dataset or stream for ``dataset``/``stream``.
    val, test
        Held-out examples given with ``array`` (``fit(val_data=..., test_data=...)``), or ``None``.
    open_run
        Opens a fitted run for the ``vae_features`` source (handed in by the
        layer that reads run directories: :func:`pyro_vae.assemble.prepare_data`).
    """
    raw = DATASETS.build(
        config.source_spec(), array=array, labels=labels, val=val, test=test, open_run=open_run, limit=config.limit
    )
    scale = raw.auto_scale if config.scale == "auto" else float(config.scale)
    gen = torch.Generator().manual_seed(config.split_seed)
    train, val, test = (_scaled(s, scale) for s in _split(raw, config, gen))
    val, test = replace(val, noise=None), replace(test, noise=None)  # evaluated at the features' means
    train, val, test = _missing_labels(train, val, test)
    if config.labels is not None:
        if isinstance(train.x, StreamedRows):
            raise DataError(
                "data.labels hides training labels of data held in memory; a stream gives its labels as they "
                "are: mark the missing ones -1 (or None) in the dataset, and leave data.labels unset"
            )
        train = replace(train, labels=keep_labels(train.labels, config.labels, gen))
    if binarize != "none":
        for split in (train, val, test):
            _check_unit_interval(split.x, binarize)
        val, test = _binarize(val, binarize, gen), _binarize(test, binarize, gen)
        if binarize == "fixed":
            train = _binarize(train, binarize, gen)
    if config.shift and train.x.dim() != 4:
        raise DataError(
            f"data.shift translates images, but examples have shape {tuple(train.x.shape[1:])}: set data.shift = 0"
        )
    return DataBundle(train, val, test, tuple(train.x.shape[1:]), binarize)


def check_support(data: DataBundle, likelihood: Likelihood) -> None:
    """Check every split against ``likelihood``'s support (a dynamically binarized train split is binary)."""
    splits = (data.val, data.test) if data.binarize == "dynamic" else (data.train, data.val, data.test)
    for split in splits:
        for x in chunks(split.x):
            likelihood.check_support(x)
