"""Cost of your own Pyro programs (the generic, traced path) against the built-in VAE, and of TensorBoard logging.

Side by side in one run, on the embedded digits (dynamically binarized, Bernoulli likelihood):

- ``builtin``: the built-in VAE (``z_dim`` 2, MLP hidden [128]), whose training step and evaluation skip
  Pyro's tracing (the fast paths);
- ``program``: the same architecture written by hand as a PyroModule model and guide (kind ``program``),
  trained and evaluated through Pyro traces;
- ``builtin+tensorboard``: the built-in VAE with ``train.loggers = ["csv", "tensorboard"]``.

Each is fitted ``--epochs`` epochs (``--rounds`` times, alternating), then its test split is evaluated with
``--samples`` importance samples per image. Printed: median seconds per epoch and per evaluation, and each
one's ratio to ``builtin`` measured in the same run.

    python benchmarks/own_programs.py --epochs 10 --samples 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pyro
import pyro.distributions as dist
from pyro.nn import PyroModule
from torch import Tensor, nn

import pyro_vae
from pyro_vae.evaluation import evaluate_split

HIDDEN, Z, PIXELS = 128, 2, 64


class Model(PyroModule):
    def __init__(self) -> None:
        super().__init__()
        self.decoder = nn.Sequential(nn.Linear(Z, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, PIXELS))

    def forward(self, x: Tensor, y: Tensor | None = None) -> None:
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(x.new_zeros(Z), 1.0).to_event(1))
            logits = self.decoder(z).reshape(*z.shape[:-1], *x.shape[1:])
            pyro.sample("x", dist.Bernoulli(logits=logits).to_event(3), obs=x)


class Guide(PyroModule):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(PIXELS, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 2 * Z))

    def forward(self, x: Tensor, y: Tensor | None = None) -> None:
        loc, raw = self.encoder(x.flatten(1)).chunk(2, -1)
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(loc, nn.functional.softplus(raw) + 1e-4).to_event(1))


def run(variant: str, epochs: int, samples: int, folder: Path) -> tuple[float, float, float]:
    """Seconds per epoch, seconds of one test evaluation, and the test log-likelihood of ``variant``."""
    settings = {"epochs": epochs, "patience": 0, "model.network.hidden": [HIDDEN], "eval.samples": 25}
    settings["data.binarize"] = "dynamic"
    own = {"model": Model(), "guide": Guide()} if variant == "program" else {}
    loggers = ["csv", "tensorboard"] if variant == "builtin+tensorboard" else ["csv"]
    result = pyro_vae.fit(out=folder, pictures=False, loggers=loggers, **own, **settings)
    start = time.perf_counter()
    test = evaluate_split(result.vae, result.data.test, samples, batch_size=100, seed=0)
    return result.summary["seconds_per_epoch"], time.perf_counter() - start, test.log_likelihood


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    variants = ["builtin", "program", "builtin+tensorboard"]
    figures: dict[str, list[tuple[float, float, float]]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for variant in variants:
                pyro.clear_param_store()
                figures[variant].append(run(variant, args.epochs, args.samples, Path(tmp) / f"{variant}-{r}"))
    base_epoch = statistics.median(f[0] for f in figures["builtin"])
    base_eval = statistics.median(f[1] for f in figures["builtin"])
    print(f"| variant | s/epoch | ratio | eval s (K={args.samples}) | ratio | test log p(x) |")
    print("|---|---|---|---|---|---|")
    for variant in variants:
        epoch = statistics.median(f[0] for f in figures[variant])
        evaluation = statistics.median(f[1] for f in figures[variant])
        nll = statistics.median(f[2] for f in figures[variant])
        print(
            f"| {variant} | {epoch:.3f} | {epoch / base_epoch:.2f} | {evaluation:.2f} | "
            f"{evaluation / base_eval:.2f} | {nll:.2f} |"
        )


if __name__ == "__main__":
    main()
