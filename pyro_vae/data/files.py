"""The user's own data from files: ``.npy``, ``.npz``, ``.csv`` and a folder of images."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np
import torch
from torchvision import transforms
from torchvision.datasets import ImageFolder

from pyro_vae._system import available_memory
from pyro_vae.data._registry import DATASETS, RawData
from pyro_vae.data.arrays import as_examples, as_labels, as_mapped_examples, auto_scale_for
from pyro_vae.errors import DataError

__all__ = ["FILE_SOURCES", "csv_file", "image_folder", "npy_file", "npz_file"]

#: file suffix -> data source name, for ``--data FILE``
FILE_SOURCES = {".npy": "npy", ".npz": "npz", ".csv": "csv"}
#: an ``.npy`` file larger than this share of the available memory is memory-mapped (``data.mmap`` unset)
MAP_SHARE = 0.25


def _existing(path: str | None, source: str, folder: bool = False) -> Path:
    if not path:
        raise DataError(f"data source {source!r} needs data.path (the file or folder to read)")
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"data.path {str(p)!r} does not exist (data source {source!r})")
    if folder != p.is_dir():
        raise DataError(
            f"data.path {str(p)!r} is {'not ' if folder else ''}a folder; data source {source!r} "
            f"reads {'a folder of class subfolders' if folder else 'a file'}"
        )
    return p


def _load_numpy(p: Path, source: str, mmap: bool = False):  # noqa: ANN202 (ndarray or NpzFile)
    try:
        return np.load(p, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read {str(p)!r} as a {source} file: {err}") from None


def _should_map(p: Path, mmap: object) -> bool:
    """``mmap`` as asked, or (``None``) when the file is larger than ``MAP_SHARE`` of the available memory."""
    if mmap is not None and not isinstance(mmap, bool):
        raise DataError(f"data.mmap must be true or false (or left out: automatic), got {mmap!r}")
    return p.stat().st_size > MAP_SHARE * available_memory() if mmap is None else mmap


@DATASETS.register("npy")
def npy_file(path: str | None = None, mmap: bool | None = None) -> RawData:
    """One NumPy array of examples, ``(N, D)``, ``(N, H, W)`` or ``(N, C, H, W)``, no labels.

    Parameters
    ----------
    path
        The ``.npy`` file.
    mmap
        Leave the array on disk, memory-mapped, and read it a batch at a time, so
        memory use stays flat however large the file; left out, files larger
        than a quarter of the available memory are mapped.
    """
    p = _existing(path, "npy")
    if _should_map(p, mmap):
        values = _load_numpy(p, "npy", mmap=True)
        return RawData(x=as_mapped_examples(values, f"array in {p.name}"), auto_scale=auto_scale_for(values))
    values = _load_numpy(p, "npy")
    return RawData(x=as_examples(values, f"array in {p.name}"), auto_scale=auto_scale_for(values))


@DATASETS.register("npz")
def npz_file(path: str | None = None, key: str | None = None, label_key: str | None = None) -> RawData:
    """Examples (and optionally labels) from a NumPy ``.npz`` archive.

    Parameters
    ----------
    path
        The ``.npz`` file.
    key
        Name of the array of examples; may be left out when the archive holds one array.
    label_key
        Name of the array of integer labels, if any.
    """
    p = _existing(path, "npz")
    archive = _load_numpy(p, "npz")
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f'{str(p)!r} holds a single array, not an .npz archive: use data.name = "npy"')
    with archive:
        names = list(archive.files)
        if key is None:
            if len(names) != 1:
                raise DataError(f"{p.name} holds arrays {', '.join(names)}: set data.key to the one with the examples")
            key = names[0]
        for option, name in (("key", key), ("label_key", label_key)):
            if name is not None and name not in names:
                raise DataError(f"data.{option} {name!r} is not in {p.name}; its arrays are: {', '.join(names)}")
        values = archive[key]
        x = as_examples(values, f"array {key!r} in {p.name}")
        y = None if label_key is None else as_labels(archive[label_key], x.shape[0], f"array {label_key!r}")
    return RawData(x=x, labels=y, auto_scale=auto_scale_for(values))


def _read_rows(p: Path, delimiter: str) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    """The header (or ``None``) and the non-empty rows with their 1-based line numbers."""
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise DataError(
            f"data.delimiter must be one character, got {delimiter!r} "
            """(for a tab: --set 'data.delimiter="\\t"')"""
        )
    try:
        with p.open(newline="", encoding="utf-8") as handle:
            rows = [(line, row) for line, row in enumerate(csv.reader(handle, delimiter=delimiter), 1) if row]
    except UnicodeDecodeError:
        raise DataError(f"{p.name} is not UTF-8 text: pass a .csv file of numbers") from None
    if not rows:
        raise DataError(f"{p.name} is empty; it needs one example per row")
    try:
        [float(v) for v in rows[0][1]]
        return None, rows
    except ValueError:
        return [h.strip() for h in rows[0][1]], rows[1:]


def _label_index(label_column: str | int, header: list[str] | None, width: int, name: str) -> int:
    if isinstance(label_column, int):
        if not -width <= label_column < width:
            raise DataError(f"data.label_column {label_column} is out of range: {name} has {width} columns")
        return label_column % width
    if header is None or label_column not in header:
        have = f"its columns are: {', '.join(header)}" if header else "it has no header row: give a column number"
        raise DataError(f"data.label_column {label_column!r} is not a column of {name}; {have}")
    return header.index(label_column)


@DATASETS.register("csv")
def csv_file(path: str | None = None, label_column: str | int | None = None, delimiter: str = ",") -> RawData:
    """A table of numbers, one example per row, with an optional header row and label column.

    Parameters
    ----------
    path
        The ``.csv`` file.
    label_column
        Name (with a header) or 0-based number of the column holding integer labels.
    delimiter
        Field separator.
    """
    p = _existing(path, "csv")
    header, numbered = _read_rows(p, delimiter)
    if not numbered:
        raise DataError(f"{p.name} has a header but no data rows")
    width = len(numbered[0][1])
    for line, row in numbered:
        if len(row) != width:
            raise DataError(f"{p.name}: line {line} has {len(row)} fields, expected {width}")
    try:
        table = np.array([[float(v) if v.strip() else np.nan for v in row] for _, row in numbered])
    except ValueError as err:
        raise DataError(f"{p.name} has a non-numeric value ({err}); every field must be a number") from None
    labels = None
    if label_column is not None:
        col = _label_index(label_column, header, width, p.name)
        labels = as_labels(table[:, col], len(table), f"label column of {p.name}")
        table = np.delete(table, col, axis=1)
    return RawData(x=as_examples(table, f"table in {p.name}"), labels=labels)


def _read_image(folder: ImageFolder, index: int) -> tuple[torch.Tensor, int]:
    try:
        return folder[index]
    except (OSError, ValueError) as err:  # PIL.UnidentifiedImageError is an OSError
        raise DataError(f"cannot read image {folder.samples[index][0]!r} ({err}): remove or replace it") from None


@DATASETS.register("image_folder")
def image_folder(
    path: str | None = None, image_size: int | list[int] | None = None, grayscale: bool = False
) -> RawData:
    """Images in class subfolders (torchvision ``ImageFolder``); folder names become labels.

    Parameters
    ----------
    path
        The folder holding one subfolder per class.
    image_size
        ``[height, width]`` (or one side, for square images) to resize every
        image to; needed when sizes differ.
    grayscale
        Convert to one grey channel (otherwise RGB, three channels).
    """
    p = _existing(path, "image_folder", folder=True)
    steps = [transforms.Grayscale()] if grayscale else [transforms.Lambda(lambda im: im.convert("RGB"))]
    if image_size is not None:
        image_size = [image_size] * 2 if isinstance(image_size, int) else image_size
        if len(image_size) != 2 or min(image_size) < 1:
            raise DataError(f"data.image_size must be [height, width] of positive integers, got {image_size!r}")
        steps.append(transforms.Resize(tuple(image_size)))
    steps.append(transforms.PILToTensor())
    try:
        folder = ImageFolder(str(p), transform=transforms.Compose(steps))
    except (FileNotFoundError, OSError) as err:
        raise DataError(f"cannot read images from {str(p)!r}: {err}") from None
    images, labels = zip(*(_read_image(folder, i) for i in range(len(folder))), strict=True)
    sizes = sorted({tuple(im.shape[1:]) for im in images})
    if len(sizes) > 1:
        raise DataError(
            f"images in {str(p)!r} have different sizes ({sizes[0]} and {sizes[1]}): "
            "set data.image_size = [height, width] to resize them"
        )
    x = torch.stack(images).to(torch.float32)
    return RawData(x=as_examples(x, f"images in {p.name}"), labels=torch.tensor(labels), auto_scale=255.0)
