"""Side-by-side cost of the importance-sampled evaluation: worker processes and chunk caps.

Loads a model trained by ``benchmarks/mnist_likelihood.py`` and evaluates its
first ``--images`` test images with ``--samples`` draws each, alternating in one
run between one process (all threads) and ``--workers`` forked processes, and,
with ``--caps``, between chunk caps (``MAX_CHUNK_FLOATS``, as powers of 2).
Every configuration scores the same batches with the same draws, so the
figures agree; the table gives seconds per round and each configuration's
time relative to the first.

    python benchmarks/eval_cost.py --run runs/nll_plain_warm --images 600 --rounds 2 --caps 20 21
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from mnist_likelihood import trainer_for

import pyro_vae.evaluation.importance as importance
from pyro_vae.data import Split
from pyro_vae.evaluation import evaluate_split
from pyro_vae.training import Trainer


def configurations(workers: int, caps: list[int]) -> list[tuple[int, int]]:
    """``(workers, cap exponent)`` pairs: one process first, then ``workers``, at every cap."""
    counts = [1] if workers == 1 else [1, workers]
    return [(count, cap) for cap in caps for count in counts]


def timed(trainer: Trainer, split: Split, samples: int, workers: int, cap: int) -> tuple[float, float]:
    """Seconds and NLL of one evaluation of ``split`` with ``workers`` processes and a ``2**cap`` chunk cap."""
    importance.MAX_CHUNK_FLOATS = 1 << cap
    start = time.perf_counter()
    result = evaluate_split(trainer.vae, split, samples, batch_size=100, seed=0, workers=workers)
    return time.perf_counter() - start, -result.log_likelihood


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="folder of a finished mnist_likelihood.py run")
    parser.add_argument("--images", type=int, default=600, help="first test images to evaluate")
    parser.add_argument("--samples", type=int, default=5000, help="importance samples per image")
    parser.add_argument("--workers", type=int, default=2, help="processes to compare with one")
    parser.add_argument("--caps", type=int, nargs="+", default=[21], help="chunk caps to compare, as log2")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of all configurations")
    args = parser.parse_args()

    run = Path(args.run)
    trainer = trainer_for(run / "config.toml", [])
    trainer.vae.load_state_dict(torch.load(run / "model.pt"))
    split = Split(trainer.data.test.x[: args.images], None)
    configs = configurations(args.workers, args.caps)
    seconds: dict[tuple[int, int], list[float]] = {config: [] for config in configs}
    print(f"{args.images} test images, K = {args.samples}, {torch.get_num_threads()} threads", flush=True)
    for round_ in range(args.rounds):
        for config in configs if round_ % 2 == 0 else configs[::-1]:
            elapsed, nll = timed(trainer, split, args.samples, *config)
            seconds[config].append(elapsed)
            print(f"round {round_ + 1}: workers {config[0]}, cap 2**{config[1]}: {elapsed:.2f} s, NLL {nll:.5f}")
    reference = statistics.median(seconds[configs[0]])
    print("| workers | chunk cap | seconds per round | median / first configuration's |")
    print("|---|---|---|---|")
    for (count, cap), times in seconds.items():
        rounds = ", ".join(f"{t:.1f}" for t in times)
        print(f"| {count} | 2**{cap} | {rounds} | {statistics.median(times) / reference:.2f} |")


if __name__ == "__main__":
    main()
