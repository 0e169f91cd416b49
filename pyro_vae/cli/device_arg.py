"""``--device``: the option every command that computes takes."""

from __future__ import annotations

import argparse
import json

__all__ = ["add_device_argument", "device_overrides"]


def add_device_argument(parser: argparse.ArgumentParser, key: str) -> None:
    """Add ``--device`` to ``parser`` (``key``: the config key it sets, named in the help)."""
    parser.add_argument(
        "--device",
        metavar="DEVICE",
        help=f"{key}where to compute: auto (CUDA when available, else cpu), cpu, cuda, cuda:N or mps (default: auto)",
    )


def device_overrides(args: argparse.Namespace) -> list[str]:
    """``--device`` as a ``--set train.device=...`` override (none when not given)."""
    return [] if args.device is None else [f"train.device={json.dumps(args.device)}"]
