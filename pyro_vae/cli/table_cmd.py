"""``pyro-vae table``: the figures of finished runs side by side (any kinds)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pyro_vae._files import atomic_write_text
from pyro_vae.comparison.runs_table import runs_table
from pyro_vae.errors import ConfigError

HELP = """\
Print every figure of the runs' summary.json side by side, a run per column:
test ELBO and log-likelihood (nats per example), and what each kind adds
(shared-factor accuracy from s and z, MIG, DCI, FactorVAE, BetaVAE and SAP
scores, classification accuracy). For example, a group model and its baselines:

  pyro-vae table runs/ada_gvae runs/beta_vae runs/vae --out table.md
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``table``."""
    p = sub.add_parser(
        "table",
        help="the figures of several finished runs side by side",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (each with a summary.json)")
    p.add_argument("--out", metavar="FILE", help="also write the table: .md (Markdown) or .csv")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Print the table of ``args.runs`` (and write it to ``args.out``)."""
    out = None if args.out is None else Path(args.out)
    if out is not None and out.suffix not in (".md", ".csv"):
        raise ConfigError(f"--out must end in .md or .csv (the table's format), got {str(out)!r}")
    if out is not None and out.exists():
        raise ConfigError(f"--out {str(out)!r} exists: choose another file name or remove it first")
    table = runs_table(args.runs)
    print(table.markdown(), end="")
    if out is not None:
        atomic_write_text(out, table.csv() if out.suffix == ".csv" else table.markdown())
