"""Training throughput on one and two CPU processes (DistributedDataParallel over gloo), one thread each.

Each measurement starts ``P`` processes through torchrun's own launcher
(``torch.distributed.launcher.api.elastic_launch``, the engine behind ``torchrun``
and ``pyro-vae fit --nproc``); every process runs on one intra-op thread, builds the
run's :class:`~pyro_vae.training.Trainer` (with ``P = 2``: its shard of every batch,
the loss in ``DistributedDataParallel``) and times whole training epochs with
``time.perf_counter`` after one warm-up epoch. Samples per second are the training
examples of all processes per second of process 0's wall-clock time (data drawing,
forward, backward, gradient all-reduce, optimizer). ``train.batch_size`` is per
process, so 2 processes take 2 x 128 examples per step. On a shared machine the wall-clock
ratio depends on what else runs; the script also reports samples per CPU second of all
the processes together (``time.process_time``, every thread), and ``2 x CPU efficiency``,
twice the ratio of the two-process figure to the one-process figure: the speed-up two idle
cores would give if waiting for each other cost nothing.

``--reference`` measures, beside pyro-vae and alternating with it, a hand-written PyTorch
VAE of the same shape (same MLP sizes, Bernoulli likelihood, analytic KL, fused Adam, the
same dynamic binarization of the same rows) in ``DistributedDataParallel`` over gloo: what
DDP itself reaches on this machine, the ceiling for any library built on it.

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
from collections.abc import Callable

import torch
from torch.distributed.launcher.api import LaunchConfig, elastic_launch


def _one_core_each() -> None:
    """With ``PIN_CORES=1``: this process and every thread it starts later run on core ``LOCAL_RANK`` only."""
    if os.environ.get("PIN_CORES") == "1":
        os.sched_setaffinity(0, {int(os.environ.get("LOCAL_RANK", "0"))})


def _worker(overrides: list[str], epochs: int) -> tuple[float, float, int]:
    """In each process: train ``1 + epochs`` epochs; the wall and CPU seconds of the timed ones, and their examples.

    CPU seconds are this process's, all its threads (gloo's, the batch prefetcher's) included.
    """
    _one_core_each()
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
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(epochs):
            trainer.train_epoch()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return seconds, cpu, epochs * len(data.train)  # every process's shards together cover the split


class _Reference(torch.nn.Module):
    """Hand-written PyTorch: pyro-vae's default VAE (MLP 784-512-256 and mirror, ReLU), its ELBO summed over a batch."""

    def __init__(self, pixels: int, z_dim: int) -> None:
        super().__init__()
        linear, relu, chain = torch.nn.Linear, torch.nn.ReLU, torch.nn.Sequential
        self.z_dim = z_dim
        self.encoder = chain(linear(pixels, 512), relu(), linear(512, 256), relu(), linear(256, 2 * z_dim))
        self.decoder = chain(linear(z_dim, 256), relu(), linear(256, 512), relu(), linear(512, pixels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        loc, raw = self.encoder(x).split(self.z_dim, dim=-1)
        scale = torch.nn.functional.softplus(raw) + 1e-5
        z = loc + scale * torch.randn_like(loc)
        nll = torch.nn.functional.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="sum")
        kl = 0.5 * (loc**2 + scale**2 - 1).sum() - scale.log().sum()
        return nll + kl


def _reference_worker(overrides: list[str], epochs: int) -> tuple[float, float, int]:
    """In each process: the hand-written VAE in DDP, on this process's shard of the same batches as pyro-vae's."""
    _one_core_each()
    torch.set_num_threads(1)
    import torch.distributed as dist

    from pyro_vae.assemble import prepare_data
    from pyro_vae.config import resolve_config
    from pyro_vae.data import Shard, TrainingBatches

    config = resolve_config(None, overrides)
    data = prepare_data(config)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    torch.manual_seed(config.seed)
    model: torch.nn.Module = _Reference(data.train.x[0].numel(), config.model.z_dim)
    if world > 1:
        dist.init_process_group("gloo")
        model = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr, fused=True)
    rank, shard_rng, order_rng = int(os.environ.get("RANK", "0")), torch.Generator(), torch.Generator()
    shard = Shard(rank, world, shard_rng) if world > 1 else None

    def epoch() -> None:
        batches = TrainingBatches(data.train, config.train.batch_size, 0, order_rng, True, shard=shard)
        for x, _ in batches:
            loss = model(x.flatten(1)) / len(x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    epoch()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        epoch()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if world > 1:
        dist.destroy_process_group()
    return seconds, cpu, epochs * len(data.train)


def measure(nproc: int, overrides: list[str], epochs: int, worker: Callable = _worker) -> tuple[float, float]:
    """Samples per second of process 0's wall-clock time, and per CPU second of all processes together."""
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
    results = elastic_launch(config, worker)(overrides, epochs)
    seconds, _, examples = results[0]
    return examples / seconds, examples / sum(cpu for _, cpu, _ in results.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/data", help="folder holding MNIST/raw (data.root)")
    parser.add_argument("--limit", type=int, default=0, help="data.limit: examples per split (0: all 60,000)")
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per measurement (after one warm-up)")
    parser.add_argument("--pairs", type=int, default=3, help="measurements with 1 and 2 processes, alternating")
    parser.add_argument("--batch-size", type=int, default=128, help="train.batch_size, per process")
    parser.add_argument("--reference", action="store_true", help="also measure hand-written PyTorch in DDP")
    parser.add_argument(
        "--pin", action="store_true", help="one core per process (process i on core i, its threads too)"
    )
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["PIN_CORES"] = "1" if args.pin else "0"  # read by each process (torchrun's launcher passes it on)
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
    print(f"# overrides: {' '.join(overrides)}; {args.epochs} timed epoch(s) per measurement; pinned: {args.pin}")
    workers = {"pyro-vae": _worker, "hand-written": _reference_worker} if args.reference else {"pyro-vae": _worker}
    ratios: dict[str, list[float]] = {name: [] for name in workers}
    cpu_ratios: dict[str, list[float]] = {name: [] for name in workers}
    for pair in range(args.pairs):
        for name, worker in workers.items():
            load = os.getloadavg()[0]
            (one, one_cpu) = measure(1, overrides, args.epochs, worker)
            (two, two_cpu) = measure(2, overrides, args.epochs, worker)
            ratios[name].append(two / one)
            cpu_ratios[name].append(2 * two_cpu / one_cpu)  # what 2 idle cores would give if waiting cost nothing
            print(
                f"pair {pair + 1} {name:>12}: 1 process {one:6.0f} samples/s ({one_cpu:5.0f} per CPU s)   "
                f"2 processes {two:6.0f} samples/s ({two_cpu:5.0f} per CPU s)   ratio {ratios[name][-1]:.2f}   "
                f"2 x CPU efficiency {cpu_ratios[name][-1]:.2f}   (load average before: {load:.2f})",
                flush=True,
            )
    for name in workers:
        print(
            f"{name}: median ratio 2/1: {statistics.median(ratios[name]):.2f} "
            f"(all: {', '.join(f'{r:.2f}' for r in ratios[name])}); "
            f"median 2 x CPU efficiency: {statistics.median(cpu_ratios[name]):.2f}"
        )
    print(f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
