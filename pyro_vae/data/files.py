"""The user's own data from files: ``.npy``, ``.npz``, ``.csv`` and a folder of images."""

from __future__ import annotations

import csv
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from torchvision import transforms
from torchvision.datasets import ImageFolder

from pyro_vae._system import available_memory
from pyro_vae.data._registry import DATASETS, RawData
from pyro_vae.data.arrays import as_examples, as_labels, as_mapped_examples, auto_scale_for
from pyro_vae.errors import DataError, InputNotice

__all__ = ["FILE_SOURCES", "csv_file", "image_folder", "npy_file", "npz_file"]

#: file suffix -> data source name, for ``--data FILE``
FILE_SOURCES = {".npy": "npy", ".npz": "npz", ".csv": "csv"}
#: the first bytes of each NumPy file kind (an ``.npz`` archive is a zip file; an empty one starts ``PK\x05\x06``)
MAGIC = {"npy": (b"\x93NUMPY",), "npz": (b"PK\x03\x04", b"PK\x05\x06")}
#: what reading a damaged NumPy file or archive member raises
READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error)
#: the ``header`` and ``grayscale`` value meaning "decide from the file(s)"
AUTO = "auto"
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
    """The array (or archive) in ``p``, after checking that it is a non-empty file of the ``source`` kind."""
    _check_magic(p, source)
    try:
        return np.load(p, allow_pickle=False, mmap_mode="r" if mmap else None)
    except READ_ERRORS as err:
        raise DataError(_read_error(p.name, source, err)) from None


def _check_magic(p: Path, source: str) -> None:
    """Refuse an empty file, or one that does not start as a ``source`` file does (before NumPy guesses pickle)."""
    with p.open("rb") as handle:
        head = handle.read(8)
    if not head:
        raise DataError(f"{p.name} is empty (0 bytes): it holds no {source} data; write the examples into it again")
    other = [kind for kind, magic in MAGIC.items() if kind != source and head.startswith(magic)]
    if other:
        raise DataError(f'{p.name} is a NumPy .{other[0]} file, not .{source}: use data.name = "{other[0]}"')
    if not head.startswith(MAGIC[source]):
        raise DataError(
            f"{p.name} is not a NumPy .{source} file (it does not start with the .{source} signature): "
            f"save it with numpy.{'save' if source == 'npy' else 'savez'}"
        )


def _read_error(name: str, source: str, err: BaseException) -> str:
    """One line for a NumPy file or archive member that cannot be read."""
    if "allow_pickle" in str(err):
        return f"{name} holds Python objects (dtype object), which pyro-vae does not load: save an array of numbers"
    detail = str(err) or type(err).__name__
    return f"cannot read {name} as a {source} file ({detail}): it is damaged or was not fully written; write it again"


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
        if not names:
            raise DataError(f"{p.name} holds no arrays: save the examples into it (numpy.savez(path, x=examples))")
        if key is None:
            if len(names) != 1:
                raise DataError(f"{p.name} holds arrays {', '.join(names)}: set data.key to the one with the examples")
            key = names[0]
        for option, name in (("key", key), ("label_key", label_key)):
            if name is not None and name not in names:
                raise DataError(f"data.{option} {name!r} is not in {p.name}; its arrays are: {', '.join(names)}")
        values = _member(archive, key, p.name)
        x = as_examples(values, f"array {key!r} in {p.name}")
        y = None
        if label_key is not None:
            y = as_labels(_member(archive, label_key, p.name), x.shape[0], f"array {label_key!r}")
    return RawData(x=x, labels=y, auto_scale=auto_scale_for(values))


def _member(archive: np.lib.npyio.NpzFile, name: str, file_name: str) -> np.ndarray:
    """Array ``name`` of an open archive; a damaged or object member is a :class:`DataError`."""
    try:
        return archive[name]
    except READ_ERRORS as err:
        raise DataError(_read_error(f"array {name!r} in {file_name}", "npz", err)) from None


def _read_rows(p: Path, delimiter: str) -> list[tuple[int, list[str]]]:
    """The non-empty rows with their 1-based line numbers."""
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
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _numbers_header(first: list[str]) -> bool:
    """Whether a row reads ``0,1,...,D-1`` (D >= 2): the column numbers pandas writes as a header."""
    return len(first) >= 2 and [v.strip() for v in first] == [str(i) for i in range(len(first))]


def _split_header(
    rows: list[tuple[int, list[str]]], header: bool | str, name: str
) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    """The header (or ``None``) and the data rows, as ``data.header`` says (``"auto"``: decided from row 1)."""
    if not isinstance(header, bool) and header != AUTO:
        raise DataError(f'data.header must be true, false or "auto" (decide from the first row), got {header!r}')
    first = rows[0][1]
    if header == AUTO and _numbers_header(first):
        warnings.warn(
            InputNotice(
                f"{name}: the first row ({','.join(v.strip() for v in first)}) is read as a header of column "
                "numbers, not as an example; set data.header = false if it is an example"
            ),
            stacklevel=2,
        )
        header = True
    if header == AUTO:
        header = not all(_is_number(v) for v in first)
    return ([h.strip() for h in first], rows[1:]) if header else (None, rows)


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
def csv_file(
    path: str | None = None, label_column: str | int | None = None, delimiter: str = ",", header: bool | str = AUTO
) -> RawData:
    """A table of numbers, one example per row, with an optional header row and label column.

    Parameters
    ----------
    path
        The ``.csv`` file.
    label_column
        Name (with a header) or 0-based number of the column holding integer labels.
    delimiter
        Field separator.
    header
        Whether the first row names the columns: ``true``, ``false`` or ``"auto"``:
        a header if it is not all numbers, or if it is the column numbers
        ``0,1,...,D-1`` that ``pandas.DataFrame.to_csv(index=False)`` writes
        (said with an :class:`~pyro_vae.errors.InputNotice`).
    """
    p = _existing(path, "csv")
    names, numbered = _split_header(_read_rows(p, delimiter), header, p.name)
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
        col = _label_index(label_column, names, width, p.name)
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
    path: str | None = None, image_size: int | list[int] | None = None, grayscale: bool | str = False
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
        ``true``: convert to one grey channel; ``false``: RGB, three channels
        (an :class:`~pyro_vae.errors.InputNotice` says so when every image is
        grey); ``"auto"``: one channel when every image is grey, else three.
    """
    p = _existing(path, "image_folder", folder=True)
    if not isinstance(grayscale, bool) and grayscale != AUTO:
        raise DataError(f'data.grayscale must be true, false or "auto" (one channel if all grey), got {grayscale!r}')
    images, labels = _read_images(p, image_size, grayscale is True)
    sizes = sorted({tuple(im.shape[1:]) for im in images})
    if len(sizes) > 1:
        raise DataError(
            f"images in {str(p)!r} have different sizes ({sizes[0]} and {sizes[1]}): "
            "set data.image_size = [height, width] to resize them"
        )
    x = _grey_channel(torch.stack(images).to(torch.float32), grayscale, p.name)
    return RawData(x=as_examples(x, f"images in {p.name}"), labels=torch.tensor(labels), auto_scale=255.0)


def _read_images(
    p: Path, image_size: int | list[int] | None, grey: bool
) -> tuple[tuple[torch.Tensor, ...], tuple[int, ...]]:
    """Every image of folder ``p`` (one channel if ``grey``, else RGB) and its class index."""
    steps = [transforms.Grayscale()] if grey else [transforms.Lambda(lambda im: im.convert("RGB"))]
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
    return images, labels


def _grey_channel(x: torch.Tensor, grayscale: bool | str, name: str) -> torch.Tensor:
    """RGB images ``x`` kept, or reduced to one channel under ``"auto"`` when every pixel has R = G = B."""
    if x.shape[1] != 3 or not bool((x[:, :1] == x[:, 1:]).all()):
        return x
    if grayscale == AUTO:
        warnings.warn(InputNotice(f"every image in {name} is grey: loaded with one channel"), stacklevel=3)
        return x[:, :1]
    warnings.warn(
        InputNotice(
            f"every image in {name} is grey, but is loaded as three equal RGB channels: set "
            'data.grayscale = true (or "auto") for one channel'
        ),
        stacklevel=3,
    )
    return x
