"""``pyro-vae sample``: draw examples from a fitted VAE."""

from __future__ import annotations

import argparse

from pyro_vae.api import sample
from pyro_vae.cli.device_arg import add_device_argument


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``sample``."""
    p = sub.add_parser(
        "sample",
        help="draw samples from a run into a PNG grid",
        description="Draw N examples E[x | z], z ~ p(z), from the best checkpoint of RUN_DIR "
        "and save them as one PNG grid.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by pyro-vae fit")
    p.add_argument("--n", type=int, default=64, metavar="N", help="number of samples (default 64)")
    p.add_argument("--out", required=True, metavar="FILE.png", help="the PNG file to write")
    p.add_argument("--seed", type=int, default=0, help="random seed for the latent draws (default 0)")
    add_device_argument(p, "")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Sample and save."""
    sample(args.run_dir, args.n, out=args.out, seed=args.seed, device=args.device or "auto")
    print(f"wrote {args.out}")
