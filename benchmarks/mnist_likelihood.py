"""Test negative log-likelihood on dynamically binarized MNIST within a wall-clock training budget.

Trains the VAE a config describes for ``--minutes`` of training time (the
clock stops while the learning curve is measured), with the learning rate
following a cosine from ``train.lr`` to 0 over that budget. Every
``--curve-every`` minutes it measures the importance-sampled NLL on the first
``--curve-images`` test images with ``--curve-samples`` draws; at the end, on
all test images with ``--samples`` draws (K = 5000 by default). Prints the
learning curve and the final figures, and saves the parameters and the curve
in ``--out``.

    python benchmarks/mnist_likelihood.py examples/configs/mnist_likelihood.toml \
        --data-root ../shared/data --minutes 120 --out runs/nll_vae

The test images are binarized once with a fixed seed (the library's rule for
evaluation splits); training images are binarized afresh in every batch.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import threading
import time
from pathlib import Path

import torch

from pyro_vae.assemble import absolute_paths, initial_vae, prepare_data
from pyro_vae.config import config_to_dict, resolve_config, write_toml
from pyro_vae.evaluation import evaluate_split
from pyro_vae.training import Trainer


def cosine_lr(base: float, elapsed: float, budget: float) -> float:
    """Learning rate at ``elapsed`` of ``budget`` seconds: a half cosine from ``base`` down to 0."""
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, elapsed / budget)))


def curve_point(trainer: Trainer, images: int, samples: int, seed: int) -> float:
    """Importance-sampled NLL (nats) of the first ``images`` test images."""
    subset = trainer.data.test.take(torch.arange(images))
    nll = -evaluate_split(trainer.vae, subset, samples=samples, batch_size=100, seed=seed).log_likelihood
    trainer.vae.train()
    return nll


def train_for(trainer: Trainer, args: argparse.Namespace) -> list[dict[str, float]]:
    """Train for ``args.minutes`` of training time; returns the learning curve."""
    budget, base_lr = 60.0 * args.minutes, trainer.config.train.lr
    curve: list[dict[str, float]] = []
    next_mark = 0.0
    trainer.vae.train()
    while trainer.train_seconds < budget:
        if trainer.train_seconds >= next_mark:
            nll = curve_point(trainer, args.curve_images, args.curve_samples, args.seed)
            curve.append({"minutes": trainer.train_seconds / 60, "epoch": trainer.epoch, "nll_subset": nll})
            print(f"{trainer.train_seconds / 60:7.1f} min  epoch {trainer.epoch:5d}  subset NLL {nll:.2f}", flush=True)
            next_mark += 60.0 * args.curve_every
        for group in trainer.optimizer.param_groups:
            group["lr"] = cosine_lr(base_lr, trainer.train_seconds, budget)
        start = time.perf_counter()
        trainer.train_epoch()
        trainer.train_seconds += time.perf_counter() - start
        trainer.epoch += 1
    nll = curve_point(trainer, args.curve_images, args.curve_samples, args.seed)
    curve.append({"minutes": trainer.train_seconds / 60, "epoch": trainer.epoch, "nll_subset": nll})
    return curve


class TreeMemory(threading.Thread):
    """Peak proportional set size (PSS) of this process and its children, sampled every ``interval`` s (Linux).

    PSS shares each page among the processes mapping it, so forked workers' inherited pages count once.
    Reading it walks every page table under a lock the process needs to fault pages in: sampled twice a
    second, it added about 70 s of system time to a 10-minute evaluation, hence the long default interval
    (an evaluation shorter than one interval reports 0).
    """

    def __init__(self, interval: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak_mb, self._done = interval, 0.0, threading.Event()

    def __enter__(self) -> TreeMemory:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self.join()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.peak_mb = max(self.peak_mb, sum(_pss_mb(pid) for pid in _tree(os.getpid())))


def _tree(pid: int) -> list[int]:
    """``pid`` and its direct children."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *map(int, children.read_text().split())] if children.exists() else [pid]


def _pss_mb(pid: int) -> float:
    """PSS of ``pid`` in MB (0 once it has exited)."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in lines if line.startswith("Pss:")), 0.0)


def final_evaluation(trainer: Trainer, out: Path, args: argparse.Namespace) -> None:
    """NLL of all test images with ``args.samples`` draws; adds it to ``out/result.json`` and prints the tables."""
    start = time.perf_counter()
    with TreeMemory() as memory:
        test = evaluate_split(
            trainer.vae, trainer.data.test, args.samples, batch_size=100, seed=args.seed, workers=args.workers
        )
    result = json.loads((out / "result.json").read_text())
    result.update(
        test_nll=-test.log_likelihood,
        test_negative_elbo=-test.elbo,
        samples=args.samples,
        test_images=len(trainer.data.test),
        eval_workers=args.workers,
        eval_seconds=time.perf_counter() - start,
        eval_peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        eval_peak_pss_mb=memory.peak_mb,
    )
    (out / "result.json").write_text(json.dumps(result, indent=2))
    print("| minutes | epoch | NLL, first test images |")
    print("|---|---|---|")
    for point in result["curve"]:
        print(f"| {point['minutes']:.1f} | {point['epoch']} | {point['nll_subset']:.2f} |")
    print(
        "| test NLL (K) | test -ELBO | training minutes | epochs | evaluation seconds (workers) "
        "| peak RSS MB | evaluation peak PSS MB, with workers |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {result['test_nll']:.2f} ({args.samples}) | {result['test_negative_elbo']:.2f} | "
        f"{result['train_minutes']:.1f} | {result['epochs']} | {result['eval_seconds']:.0f} ({args.workers}) | "
        f"{result['eval_peak_rss_mb']:.0f} | {result['eval_peak_pss_mb']:.0f} |"
    )


def trainer_for(config_path: Path, overrides: list[str]) -> Trainer:
    """A fresh trainer (data prepared, model built with the config's seed) for ``config_path``."""
    config = absolute_paths(resolve_config(config_path, overrides))
    data = prepare_data(config)
    return Trainer(initial_vae(config, data), config, data, log=None, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", help="TOML run configuration (data.name = 'mnist')")
    parser.add_argument("--data-root", default="../shared/data", help="folder holding MNIST/raw/")
    parser.add_argument("--minutes", type=float, default=120.0, help="training time budget")
    parser.add_argument("--curve-every", type=float, default=10.0, help="minutes between learning-curve points")
    parser.add_argument("--curve-images", type=int, default=1000, help="test images per learning-curve point")
    parser.add_argument("--curve-samples", type=int, default=1000, help="importance samples per curve point")
    parser.add_argument("--samples", type=int, default=5000, help="final importance samples (0: evaluate later)")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed")
    parser.add_argument("--workers", type=int, default=1, help="processes for the final evaluation (eval.workers)")
    parser.add_argument("--out", required=True, help="folder for the parameters and the curve (new unless --eval-only)")
    parser.add_argument("--eval-only", action="store_true", help="only the final evaluation of the model in --out")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="override a config key")
    args = parser.parse_args()

    out = Path(args.out)
    if args.eval_only:
        trainer = trainer_for(out / "config.toml", [])
        trainer.vae.load_state_dict(torch.load(out / "model.pt"))
        final_evaluation(trainer, out, args)
        return
    if args.config is None:
        parser.error("give a config file (or --eval-only with --out of a finished run)")
    out.mkdir(parents=True, exist_ok=False)
    trainer = trainer_for(Path(args.config), [f'data.root="{args.data_root}"', *args.overrides])
    write_toml(config_to_dict(trainer.config), out / "config.toml")
    threads = torch.get_num_threads()
    print(f"training on {len(trainer.data.train)} images for {args.minutes:g} minutes, {threads} threads", flush=True)
    curve = train_for(trainer, args)
    torch.save(trainer.vae.state_dict(), out / "model.pt")
    result = {"train_minutes": trainer.train_seconds / 60, "epochs": trainer.epoch, "curve": curve}
    (out / "result.json").write_text(json.dumps(result, indent=2))
    if args.samples > 0:
        final_evaluation(trainer, out, args)


if __name__ == "__main__":
    main()
