"""``pyro-vae evaluate``: re-evaluate a run on its test split."""

from __future__ import annotations

import argparse

from pyro_vae.api import evaluate
from pyro_vae.cli.device_arg import add_device_argument

HELP = """\
Evaluate the best checkpoint of RUN_DIR on its test split and rewrite
RUN_DIR/summary.json: test_elbo and test_log_likelihood (importance sampled
with K samples per example), in nats per example, higher is better.
Under torchrun (torchrun --nproc_per_node=N -m pyro_vae evaluate RUN_DIR)
the processes share out the test batches and process 0 writes.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``evaluate``."""
    p = sub.add_parser("evaluate", help="re-evaluate a run, rewriting summary.json", description=HELP)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by pyro-vae fit")
    p.add_argument(
        "--samples", type=int, metavar="K", help="importance samples per test example (default: the run's eval.samples)"
    )
    add_device_argument(p, "")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Evaluate and print the headline figures."""
    evaluate(args.run_dir, samples=args.samples, log=print, device=args.device or "auto")
