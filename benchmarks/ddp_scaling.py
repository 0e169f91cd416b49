"""Training throughput on one and two CPU processes (DistributedDataParallel over gloo), one thread each.

Each measurement starts ``P`` processes through torchrun's own launcher
(``torch.distributed.launcher.api.elastic_launch``, the engine behind ``torchrun``
and ``pyro-vae fit --nproc``); every process runs on one intra-op thread, builds the
run's :class:`~pyro_vae.training.Trainer` (with ``P = 2``: its shard of every batch,
the loss in ``DistributedDataParallel``) and times whole training epochs with
``time.perf_counter`` after one warm-up epoch. Samples per second are the training
examples of all processes per second of process 0's wall-clock time (data drawing,
forward, backward, gradient all-reduce, optimizer). ``train.batch_size`` is per
process, so 2 processes take 2 x 128 examples per step.

The data are MNIST from local files (``data.name = mnist``, ``data.root``); the model
is pyro-vae's default VAE (MLP 784-512-256-2 encoder and mirror decoder, Bernoulli
likelihood, dynamic binarization, estimator ``trace``, fused Adam). The runs with 1
and 2 processes alternate (1, 2, 1, 2, ...) so both see the same machine load; the
ratio is taken from each pair and the median pair reported, with the load average.

    python benchmarks/ddp_scaling.py --root ../shared/data
    python benchmarks/ddp_scaling.py --root ../shared/data --limit 20000 --epochs 2 --pairs 3
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
import uuid

import torch
from torch.distributed.launcher.api import LaunchConfig, elastic_launch


def _worker(overrides: list[str], epochs: int) -> float:
    """In each process: train ``1 + epochs`` epochs; returns examples per second of the timed ones (all processes)."""
    torch.set_num_threads(1)
    from pyro_vae.assemble import initial_vae, prepare_data
    from pyro_vae.config import resolve_config
    from pyro_vae.training import Trainer
    from pyro_vae.training.distributed import joined

    config = resolve_config(None, overrides)
    with joined(config.train.ddp_timeout):
        data = prepare_data(config)
        trainer = Trainer(initial_vae(config, data), config, data, progress=False)
        trainer.train_epoch()  # warm-up: allocations, thread pools, the first all-reduce buckets
        start = time.perf_counter()
        for _ in range(epochs):
            trainer.train_epoch()
        seconds = time.perf_counter() - start
    return epochs * len(data.train) / seconds  # every process's shards together cover the split


def measure(nproc: int, overrides: list[str], epochs: int) -> float:
    """Samples per second with ``nproc`` processes (process 0's figure)."""
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=f"ddp-scaling-{uuid.uuid4().hex[:8]}",
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        max_restarts=0,
        monitor_interval=0.1,
    )
    return elastic_launch(config, _worker)(overrides, epochs)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/data", help="folder holding MNIST/raw (data.root)")
    parser.add_argument("--limit", type=int, default=0, help="data.limit: examples per split (0: all 60,000)")
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per measurement (after one warm-up)")
    parser.add_argument("--pairs", type=int, default=3, help="measurements with 1 and 2 processes, alternating")
    parser.add_argument("--batch-size", type=int, default=128, help="train.batch_size, per process")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    overrides = [
        "data.name=mnist",
        f"data.root={os.path.abspath(args.root)}",
        f"data.limit={args.limit}",
        f"train.batch_size={args.batch_size}",
        "train.estimator=trace",
    ]
    print(
        f"# {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()}-core CPU, "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )
    print(f"# overrides: {' '.join(overrides)}; {args.epochs} timed epoch(s) per measurement")
    rows = []
    for pair in range(args.pairs):
        load = os.getloadavg()[0]
        one = measure(1, overrides, args.epochs)
        two = measure(2, overrides, args.epochs)
        rows.append((one, two))
        print(
            f"pair {pair + 1}: 1 process {one:8.0f} samples/s   2 processes {two:8.0f} samples/s   "
            f"ratio {two / one:.2f}   (load average before: {load:.2f})",
            flush=True,
        )
    ratios = [two / one for one, two in rows]
    print(f"median ratio 2/1: {statistics.median(ratios):.2f}  (all: {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
