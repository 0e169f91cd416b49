"""Swap priors and likelihoods declaratively and compare them on the same data.

python examples/swap_priors.py --epochs 40
"""

from __future__ import annotations

import argparse

import pyro_vae

CHOICES = [
    {"prior": "normal", "likelihood": "bernoulli"},
    {"prior": "learned_normal", "likelihood": "bernoulli"},
    {"prior": "laplace", "likelihood": "bernoulli"},
    {"prior": {"name": "mixture", "components": 10}, "likelihood": "bernoulli"},
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()

    print(f"{'prior':<16} {'likelihood':<12} {'test ELBO':>10} {'test log p(x)':>14}")
    for choice in CHOICES:
        result = pyro_vae.fit(
            "examples/configs/digits.toml", epochs=args.epochs, z_dim=4, eval={"samples": 500}, **choice
        )
        prior = pyro_vae.PRIORS.check(choice["prior"])["name"]
        print(
            f"{prior:<16} {choice['likelihood']:<12} {result.summary['test_elbo']:>10.2f} "
            f"{result.summary['test_log_likelihood']:>14.2f}"
        )


if __name__ == "__main__":
    main()
