"""Semi-supervised MNIST benchmark: M1+M2 (Kingma et al. 2014) with pyro-vae, from nothing to test accuracy.

Stage 1 (M1) fits a Gaussian VAE on all MNIST training images, no labels.
Stage 2 (M2) fits the semi-supervised VAE on M1's posterior means with
``--labels`` labelled training examples (balanced, seeded); every other
training label is hidden. Model selection uses the validation ELBO only (no
validation labels). Prints a table of the test accuracy, the seconds spent, and
the per-epoch validation accuracy (logged, not used for selection).

    python benchmarks/ss_mnist.py --data-root ../shared/data --labels 100 --out runs/ss100
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pyro_vae

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/data", help="folder holding MNIST/raw/")
    parser.add_argument("--labels", type=int, default=100, help="labelled training examples (balanced)")
    parser.add_argument("--out", required=True, help="new directory for both runs")
    parser.add_argument("--m1", help="reuse a fitted M1 run directory instead of fitting one")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="override an M2 config key")
    args = parser.parse_args()

    out = Path(args.out)
    start = time.perf_counter()
    m1 = Path(args.m1) if args.m1 else out / "m1"
    if not args.m1:
        pyro_vae.fit(CONFIGS / "mnist_m1.toml", out=m1, overrides=[f'data.root="{args.data_root}"'], log=print)
    m1_seconds = time.perf_counter() - start
    m2 = pyro_vae.fit(
        CONFIGS / "mnist_m1m2.toml",
        out=out / "m2",
        log=print,
        overrides=[f'data.run="{m1}"', f"data.labels={args.labels}", *args.overrides],
    )
    total = time.perf_counter() - start
    s = m2.summary
    print("| labels | test accuracy | M1 seconds | M2 seconds per epoch | M2 epochs | total seconds |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.labels} | {s['test_accuracy']['digit']:.4f} | {m1_seconds:.0f} | {s['seconds_per_epoch']:.1f} | "
        f"{s['epochs']} | {total:.0f} |"
    )
    print("validation accuracy per epoch:", json.dumps([round(r["val_accuracy_digit"], 4) for r in m2.history]))


if __name__ == "__main__":
    main()
