"""Checkpoints: plain state dicts and the resolved config, loadable with ``weights_only=True``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from pyro_vae.errors import RunDirError

__all__ = ["CHECKPOINT_FORMAT", "load_checkpoint", "save_checkpoint"]

#: bumped when the layout of a checkpoint changes
CHECKPOINT_FORMAT = 1


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically: an interrupted save leaves the old file intact."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": CHECKPOINT_FORMAT, **state}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(..., weights_only=True)``; a clear error if it is unusable."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise RunDirError(f"checkpoint {str(path)!r} does not exist") from None
    except Exception as err:
        raise RunDirError(f"checkpoint {str(path)!r} cannot be read ({type(err).__name__}: {err})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise RunDirError(f"checkpoint {str(path)!r} is not a pyro-vae checkpoint of format {CHECKPOINT_FORMAT}")
    return state
