"""Semi-supervised MNIST benchmark: test accuracy of q(y|x) with few labels, and the time it takes.

Fits ``examples/configs/mnist_ss.toml`` (M2 with enumerated labels, a CNN
classifier, shift augmentation and a consistency term) with ``--labels``
labelled training images (balanced, seeded); every other training label is
hidden. The best epoch is chosen by validation accuracy (the semi-supervised
validation rule: the validation split keeps its labels). Prints the test accuracy, seconds per epoch and the
validation accuracy of every epoch.

    python benchmarks/ss_mnist.py --data-root ../shared/data --labels 100 --out runs/ss100
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pyro_vae

CONFIG = Path(__file__).resolve().parents[1] / "examples" / "configs" / "mnist_ss.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/data", help="folder holding MNIST/raw/")
    parser.add_argument("--labels", type=int, default=100, help="labelled training examples (balanced)")
    parser.add_argument("--out", required=True, help="new run directory")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="override a config key")
    args = parser.parse_args()

    start = time.perf_counter()
    result = pyro_vae.fit(
        CONFIG,
        out=Path(args.out),
        log=print,
        overrides=[f'data.root="{args.data_root}"', f"data.labels={args.labels}", *args.overrides],
    )
    total = time.perf_counter() - start
    s = result.summary
    print("| labels | test accuracy | z leakage | seconds per epoch | epochs | total seconds |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.labels} | {s['test_accuracy']['digit']:.4f} | {s['z_label_leakage_accuracy']['digit']:.4f} | "
        f"{s['seconds_per_epoch']:.1f} | {s['epochs']} | {total:.0f} |"
    )
    print("validation accuracy per epoch:", json.dumps([round(r["val_accuracy_digit"], 4) for r in result.history]))


if __name__ == "__main__":
    main()
