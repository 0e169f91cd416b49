"""Checkpoints: plain state dicts and the resolved config, loadable with ``weights_only=True``.

Every checkpoint carries its format and the fingerprint of its run's identity
(:func:`pyro_vae.training.identity.fingerprint`). :func:`load_checkpoint`
turns every way a file can be unusable into one line naming the file and the
problem: missing, empty, damaged, holding executable objects, of another
format, lacking a key, or altered after it was written.
"""

from __future__ import annotations

import io
import pickle
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import torch

from pyro_vae._files import atomic_write_bytes, os_error
from pyro_vae.errors import RunDirError
from pyro_vae.training.identity import fingerprint

__all__ = [
    "CHECKPOINT_FORMAT",
    "MODEL_KEYS",
    "TRAINING_KEYS",
    "load_checkpoint",
    "save_checkpoint",
]

#: bumped when the layout of a checkpoint changes (2: adds ``fingerprint``)
CHECKPOINT_FORMAT = 2
#: formats this version reads (format 1 has no fingerprint to check)
_READABLE_FORMATS = (1, 2)
#: what every checkpoint holds (``best.pt``), with the type of each value
MODEL_KEYS: dict[str, type] = {"model": dict, "config": dict, "event_shape": list, "epoch": int}
#: what ``checkpoint.pt`` holds besides, to continue training
TRAINING_KEYS: dict[str, type] = {
    **MODEL_KEYS,
    "step": int,
    "optimizer": dict,
    "scheduler": dict,
    "stopper": dict,
    "history": list,
    "train_seconds": float,
    "torch_rng": torch.Tensor,
    "data_rng": torch.Tensor,
}
_UNSAFE = "Weights only load failed"


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically, with its format and fingerprint.

    The checkpoint is serialised in memory first, so a full disk is an
    ``OSError`` of the write (one line, see :mod:`pyro_vae._files`) and the old
    file stays intact.
    """
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **state, "fingerprint": fingerprint(state)}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def _unsafe_message(path: Path, err: Exception) -> str:
    found = re.search(r"GLOBAL (\S+)", str(err))
    what = f" ({found.group(1)})" if found else ""
    return (
        f"checkpoint {str(path)!r} holds executable Python objects{what}, not only tensors and plain values: "
        "pyro-vae will not load it, since loading it could run code; use a checkpoint pyro-vae wrote"
    )


def _read(path: Path) -> Any:
    """``torch.load(path, weights_only=True)``, every failure as one line."""
    try:
        if path.stat().st_size == 0:
            raise RunDirError(f"checkpoint {str(path)!r} is empty (0 bytes): restore it, or start a new run")
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise RunDirError(f"checkpoint {str(path)!r} does not exist") from None
    except pickle.UnpicklingError as err:
        if _UNSAFE in str(err):
            raise RunDirError(_unsafe_message(path, err)) from None
        raise RunDirError(f"checkpoint {str(path)!r} is damaged ({type(err).__name__}: {err})") from None
    except OSError as err:
        if isinstance(err, RunDirError):
            raise
        raise os_error("read the checkpoint", path, err) from err
    except Exception as err:
        cause = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        raise RunDirError(
            f"checkpoint {str(path)!r} cannot be read: it is damaged or not a PyTorch file ({type(err).__name__}: "
            f"{cause})"
        ) from None


def _check_layout(state: Any, path: Path, keys: Mapping[str, type]) -> None:
    """Refuse a state of the wrong format, lacking a key or holding a value of the wrong type."""
    if not isinstance(state, dict) or state.get("format") not in _READABLE_FORMATS:
        found = state.get("format") if isinstance(state, dict) else None
        newer = isinstance(found, int) and found > CHECKPOINT_FORMAT
        hint = ": upgrade pyro-vae to read it" if newer else ""
        raise RunDirError(
            f"checkpoint {str(path)!r} is not a pyro-vae checkpoint of format {CHECKPOINT_FORMAT}"
            f"{f' (it is of format {found})' if found is not None else ''}{hint}"
        )
    missing = [k for k in keys if k not in state]
    if missing:
        raise RunDirError(
            f"checkpoint {str(path)!r} lacks {', '.join(map(repr, missing))}: it is not a complete "
            "pyro-vae checkpoint; restore it, or start a new run"
        )
    wrong = [k for k, kind in keys.items() if not isinstance(state[k], kind) and not _is_number(state[k], kind)]
    if wrong:
        k = wrong[0]
        raise RunDirError(
            f"checkpoint {str(path)!r} holds a {type(state[k]).__name__} under {k!r} where pyro-vae wrote a "
            f"{keys[k].__name__}: it was altered; restore it, or start a new run"
        )


def _is_number(value: Any, kind: type) -> bool:
    """Ints where floats are expected are fine (``train_seconds`` of 0)."""
    return kind is float and isinstance(value, int) and not isinstance(value, bool)


def _check_fingerprint(state: dict[str, Any], path: Path) -> None:
    stored = state.get("fingerprint")
    if stored is None and state["format"] == 1:
        return
    if stored != fingerprint(state):
        raise RunDirError(
            f"checkpoint {str(path)!r} does not match its own fingerprint: its config, event shape or classes "
            "were altered after pyro-vae wrote it; restore it, or start a new run"
        )


def load_checkpoint(path: Path, keys: Collection[str] | Mapping[str, type] = MODEL_KEYS) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(..., weights_only=True)`` and check its layout and fingerprint.

    Parameters
    ----------
    path
        ``best.pt`` or ``checkpoint.pt``.
    keys
        What the caller needs: :data:`MODEL_KEYS` (the default) or :data:`TRAINING_KEYS`.

    Raises
    ------
    RunDirError
        One line naming the file and what is wrong with it.
    """
    state = _read(path)
    needed = keys if isinstance(keys, Mapping) else {k: object for k in keys}
    _check_layout(state, path, needed)
    _check_fingerprint(state, path)
    return state
