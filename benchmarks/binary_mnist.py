"""Binary-latent MNIST benchmark: one 200-bit VAE trained with each gradient estimator for binary codes.

Every estimator starts from the same initialisation and trains for the same
number of epochs (``examples/configs/mnist_binary.toml``); each is evaluated
with the discrete model (test ELBO and importance-sampled log-likelihood, same
K). Exact enumeration cannot sum over 2**200 codes; it is shown on a 6-bit
code beside the same 6-bit model trained by the other estimators
(``--small-bits``, 0 to skip).

    python benchmarks/binary_mnist.py --data-root ../shared/data --out runs/binary-compare
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyro_vae
from pyro_vae.comparison.report import markdown_table

CONFIG = Path(__file__).resolve().parents[1] / "examples" / "configs" / "mnist_binary.toml"

ESTIMATORS = [
    {"name": "graph", "baseline": "decaying"},
    {"name": "graph", "baseline": "learned"},
    {"name": "relaxed", "temperature": 1.0, "min_temperature": 0.5, "anneal_rate": 3e-5},
    {"name": "relaxed", "temperature": 1.0, "min_temperature": 0.5, "anneal_rate": 3e-5, "straight_through": True},
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/data", help="folder holding MNIST/raw/")
    parser.add_argument("--out", required=True, help="new directory for the comparisons")
    parser.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    parser.add_argument("--samples", type=int, default=None, help="override eval.samples (K)")
    parser.add_argument("--small-bits", type=int, default=6, help="code size of the enumeration comparison")
    args = parser.parse_args()

    overrides = [f'data.root="{args.data_root}"']
    overrides += [f"train.epochs={args.epochs}"] if args.epochs else []
    overrides += [f"eval.samples={args.samples}"] if args.samples else []
    out = Path(args.out)
    common = {"log": print, "snr_repeats": 50, "overrides": overrides}
    big = pyro_vae.compare(CONFIG, ESTIMATORS, out=out / "bits200", **common)
    print(markdown_table(big))
    if args.small_bits:
        small = pyro_vae.compare(
            CONFIG,
            [*ESTIMATORS, {"name": "enum", "max_bits": args.small_bits}],
            out=out / f"bits{args.small_bits}",
            **{**common, "overrides": [*overrides, f"model.z_dim={args.small_bits}"]},
        )
        print(markdown_table(small))


if __name__ == "__main__":
    main()
