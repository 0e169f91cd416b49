"""``pyro-vae diagnose``: ArviZ diagnostics of a run's guide."""

from __future__ import annotations

import argparse

from pyro_vae.api import diagnose
from pyro_vae.cli.device_arg import add_device_argument
from pyro_vae.errors import ConfigError

HELP = """\
Diagnose the guide q(z|x) of RUN_DIR's best checkpoint with ArviZ:
  - PSIS: for every test point, the Pareto k-hat of the importance weights
    p(x, z) / q(z | x) (K draws); summary.json gains psis_khat_mean and
    psis_khat_frac_above_0.7 (above 0.7: importance sampling is unreliable
    for that point); psis_khat.png is their histogram.
  - diagnostics.nc (InferenceData, netCDF): posterior draws of z for the
    --points test examples, their log-likelihood log p(x | z) and log-weights,
    the training history, and every test point's k-hat.
Under torchrun (torchrun --nproc_per_node=N -m pyro_vae diagnose RUN_DIR)
the processes share out the test points' PSIS and process 0 writes the files.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``diagnose``."""
    p = sub.add_parser(
        "diagnose",
        help="PSIS k-hat and ArviZ InferenceData of a run",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by pyro-vae fit")
    p.add_argument(
        "--samples",
        type=int,
        metavar="K",
        help="importance samples per test point for PSIS (default: the run's eval.samples)",
    )
    p.add_argument(
        "--points",
        default="100",
        metavar="N|I,J,...",
        help="test examples whose posterior draws are exported: the first N (default 100) "
        "or a comma-separated list of test indices",
    )
    p.add_argument("--draws", type=int, default=1000, metavar="S", help="posterior draws per exported example")
    add_device_argument(p, "")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Diagnose and print the headline figures."""
    diagnose(
        args.run_dir,
        points=_points(args.points),
        draws=args.draws,
        samples=args.samples,
        log=print,
        device=args.device or "auto",
    )


def _points(text: str) -> int | list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"--points takes a number or comma-separated test indices, got {text!r}") from None
    return values[0] if "," not in text else values
