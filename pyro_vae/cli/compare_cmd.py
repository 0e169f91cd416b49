"""``pyro-vae compare``: fit the same VAE with several ELBO estimators and compare them."""

from __future__ import annotations

import argparse

from tqdm.auto import tqdm

from pyro_vae.cli.device_arg import add_device_argument, device_overrides
from pyro_vae.comparison import compare, markdown_table
from pyro_vae.config.overrides import parse_assignment
from pyro_vae.errors import ConfigError
from pyro_vae.registry import ComponentSpec

HELP = """\
Fit the VAE of CONFIG.toml once per estimator, from the same initialisation and
seed, on the same data, for the same number of epochs (early stopping off),
and compare: test ELBO, importance-sampled test log-likelihood (same K for
all), seconds per epoch, and the signal-to-noise ratio |mean| / std of the
encoder's and decoder's gradients (repeated estimates on one fixed batch) at
the start and the end of training. Then, at the parameters the first estimator
reached, the gradient SNR of iwae and dreg against the number of particles K.

DIR receives one run directory per estimator and:
  comparison.csv, comparison.md   the table (also printed)
  snr_vs_k.csv, snr_vs_k.png      gradient SNR against K for iwae and dreg
  learning_curves.png             validation ELBO per epoch of every estimator

Estimators: a registered name (`pyro-vae list`), optionally with its number of
particles after a colon and options after slashes:
  --estimators trace,meanfield,iwae:5,dreg:5,stl
  --estimators graph/baseline=learned,relaxed/straight_through=true,enum/max_bits=8
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``compare``."""
    p = sub.add_parser(
        "compare",
        help="compare ELBO estimators on the same model",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", nargs="?", metavar="CONFIG.toml", help="TOML config file (default: built-in defaults)")
    p.add_argument(
        "--estimators",
        required=True,
        metavar="LIST",
        help="comma-separated estimators, each NAME, NAME:K (K = num_particles) and /key=value options",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="new directory for the runs and the comparison")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key (repeatable)",
    )
    p.add_argument(
        "--snr-repeats", type=int, default=100, metavar="N", help="gradient estimates per SNR measurement (default 100)"
    )
    p.add_argument("--snr-batch", type=int, default=100, metavar="B", help="examples in the SNR batch (default 100)")
    p.add_argument(
        "--snr-particles",
        default="1,5,10,50",
        metavar="LIST",
        help="particle counts K for the SNR-against-K curves (default 1,5,10,50)",
    )
    add_device_argument(p, "train.device of every run: ")
    p.add_argument("--pictures", action="store_true", help="also write each run's pictures")
    p.add_argument("--no-progress", action="store_true", help="hide the per-epoch progress bar")
    p.add_argument("--quiet", action="store_true", help="print only the table")
    p.set_defaults(run=run)


def parse_estimators(text: str) -> list[ComponentSpec]:
    """``"trace,iwae:5,graph/baseline=learned"`` -> ``["trace", {"name": "iwae", "num_particles": 5}, {...}]``."""
    specs: list[ComponentSpec] = []
    for item in (part.strip() for part in text.split(",")):
        head, *options = item.split("/")
        name, sep, k = head.partition(":")
        if not name:
            raise ConfigError(f"--estimators has an empty entry in {text!r}")
        spec: dict[str, object] = {"name": name}
        if sep and not (k.isdigit() and int(k) > 0):
            raise ConfigError(f"--estimators entry {item!r}: after ':' give the number of particles, e.g. iwae:5")
        if sep:
            spec["num_particles"] = int(k)
        for option in options:
            if "=" not in option:
                raise ConfigError(
                    f"--estimators entry {item!r}: give options as /key=value, e.g. graph/baseline=learned"
                )
            key, value = parse_assignment(option)
            spec[key] = value
        specs.append(name if len(spec) == 1 else spec)
    return specs


def _integers(text: str, option: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"{option} takes comma-separated integers, got {text!r}") from None


def run(args: argparse.Namespace) -> None:
    """Compare and print the table."""
    comparison = compare(
        args.config,
        parse_estimators(args.estimators),
        out=args.out,
        overrides=[*args.overrides, *device_overrides(args)],
        snr_repeats=args.snr_repeats,
        snr_batch=args.snr_batch,
        snr_particles=_integers(args.snr_particles, "--snr-particles"),
        log=None if args.quiet else tqdm.write,
        progress=not (args.quiet or args.no_progress),
        pictures=args.pictures,
    )
    print(markdown_table(comparison))
    if comparison.snr_vs_k:
        print("gradient SNR against K (encoder / decoder), at the parameters trained with " + comparison.reference)
    for point in comparison.snr_vs_k:
        print(f"  {point.estimator:<6} K={point.num_particles:<5d} {point.snr_encoder:9.3f} / {point.snr_decoder:9.3f}")
    print(f"wrote {args.out}")
