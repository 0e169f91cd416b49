"""``pyro-vae encode``: posterior means and scales of new data."""

from __future__ import annotations

import argparse

from pyro_vae.scoring import check_out, encode, write_codes

HELP = """\
Encode every example of FILE with the guide of the best checkpoint of RUN_DIR and
write an .npy array of shape (N, 2, z_dim): [:, 0] the means of q(z | x), [:, 1]
their standard deviations. FILE is prepared as the run's data were (see
pyro-vae score --help).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``encode``."""
    p = sub.add_parser("encode", help="posterior means and scales of new data", description=HELP)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by pyro-vae fit")
    p.add_argument("--data", required=True, metavar="FILE", help="the examples to encode")
    p.add_argument("--out", required=True, metavar="FILE.npy", help="the .npy file to write")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Encode and write the array."""
    check_out(args.out, ".npy")
    means, stds = encode(args.run_dir, args.data)
    write_codes(means, stds, args.out)
    print(f"encoded {means.shape[0]} examples into {means.shape[1]} dimensions; wrote {args.out}")
