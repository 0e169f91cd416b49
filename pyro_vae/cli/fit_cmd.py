"""``pyro-vae fit``: train a VAE (or resume a run) and evaluate it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm.auto import tqdm

from pyro_vae.api import fit, resume
from pyro_vae.cli.device_arg import add_device_argument, device_overrides
from pyro_vae.data import DATASETS
from pyro_vae.errors import ConfigError
from pyro_vae.training.distributed import launch

HELP = """\
Train a VAE described by CONFIG.toml (default: the built-in digits setup),
evaluate it on the test split, and write into RUN_DIR:
  config.toml        the resolved configuration the run used
  checkpoint.pt      latest state (for --resume); best.pt: best validation epoch
  metrics.csv        per epoch: train/validation ELBO (nats per example), KL weight, lr, seconds
  summary.json       test_elbo, test_log_likelihood (importance sampled), epochs, train_seconds, ...
  *.png              samples, reconstructions, training curve, latent space (2-D manifold if z_dim = 2)

Several processes (PyTorch DistributedDataParallel, gloo on CPU, NCCL on CUDA):
  pyro-vae fit CONFIG.toml --nproc 2 --out RUN_DIR      # on this machine, through torchrun's launcher
  torchrun --nproc_per_node=2 -m pyro_vae fit CONFIG.toml --out RUN_DIR    # the same, started by torchrun
train.batch_size is per process: N processes take N * batch_size examples per step
(each its own shard), with the gradient of one process on that global batch.

Every config key can be set with --set, e.g.
  --set model.prior=mixture --set model.prior.components=10 --set train.epochs=30
  --set data.name=mnist --set data.root=../shared/data
Run `pyro-vae list` for the valid priors, likelihoods, networks, estimators and data sources.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``fit``."""
    p = sub.add_parser(
        "fit",
        help="train a VAE and evaluate it",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", nargs="?", metavar="CONFIG.toml", help="TOML config file (default: built-in defaults)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key (repeatable); the value is read as TOML, else as text",
    )
    p.add_argument(
        "--data",
        metavar="NAME|PATH",
        help="data source name (digits, mnist, fashion_mnist) or a .npy/.npz/.csv file or image folder",
    )
    p.add_argument("--data-root", metavar="DIR", help="folder holding torchvision datasets (sets data.root)")
    p.add_argument("--out", metavar="RUN_DIR", help="new run directory to create (must not hold files)")
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last epoch; any train.* or eval.* key may be --set and takes effect",
    )
    add_device_argument(p, "train.device: ")
    p.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="train with N processes on this machine (torchrun's launcher, DDP); train.batch_size is per process",
    )
    p.add_argument("--no-pictures", action="store_true", help="skip writing the PNG pictures")
    p.add_argument("--no-progress", action="store_true", help="hide the per-epoch progress bar")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(run=run)


def _data_overrides(args: argparse.Namespace) -> tuple[list[str], str | None]:
    """``--data`` and ``--data-root`` as ``--set`` overrides, or a file path for ``fit(data=...)``."""
    overrides, path = [], None
    if args.data is not None:
        if args.data in DATASETS:
            overrides.append(f"data.name={json.dumps(args.data)}")
        elif Path(args.data).exists():
            path = args.data
        else:
            raise ConfigError(
                f"--data {args.data!r} is neither a data source ({', '.join(DATASETS.names())}) "
                "nor an existing file or folder"
            )
    if args.data_root is not None:
        overrides.append(f"data.root={json.dumps(args.data_root)}")
    return overrides, path


def _child_argv(args: argparse.Namespace) -> list[str]:
    """The ``fit`` command line each of ``--nproc`` processes runs: these arguments without ``--nproc``."""
    argv = ["fit"] + ([args.config] if args.config is not None else [])
    for flag, value in (("--data", args.data), ("--data-root", args.data_root), ("--out", args.out)):
        argv += [flag, value] if value is not None else []
    argv += ["--resume", args.resume] if args.resume is not None else []
    for override in args.overrides:
        argv += ["--set", override]
    switches = {"--no-pictures": args.no_pictures, "--no-progress": args.no_progress, "--quiet": args.quiet}
    return argv + [flag for flag, on in switches.items() if on]


def run(args: argparse.Namespace) -> None:
    """Fit or resume as the arguments say (in ``--nproc`` processes started through torchrun's launcher)."""
    if args.nproc != 1:
        launch(args.nproc, _child_argv(args))
        return
    log = None if args.quiet else tqdm.write
    common = {"log": log, "progress": not (args.quiet or args.no_progress), "pictures": not args.no_pictures}
    if args.resume is not None:
        if args.config is not None or args.out is not None or args.data is not None or args.data_root is not None:
            raise ConfigError(
                "--resume continues a run with its saved config: drop CONFIG.toml, --out, --data "
                "and --data-root (use --set train.* to change training)"
            )
        resume(args.resume, overrides=[*args.overrides, *device_overrides(args)], **common)
        return
    if args.out is None:
        raise ConfigError("--out RUN_DIR is required: the directory where the run is written")
    overrides, path = _data_overrides(args)
    fit(
        args.config, data=path, out=args.out, overrides=[*overrides, *args.overrides, *device_overrides(args)], **common
    )
