"""Issue 14's measurements: disentanglement of group models against plain and beta-VAE baselines, same budget.

Each model trains for ``--minutes`` of CPU time on one thread (``time.process_time``
with ``torch.set_num_threads(1)``: the budget holds on a shared machine, where wall
time would not), whole epochs, no early stop, the last parameters kept; then it is
scored on the test split. ``--model`` runs one model per process, so the models of a
comparison can train side by side, one core each; ``--report-every`` prints the
scores along the way (scoring time is not counted in the budget).

- ``shapes``: pairs sharing a random number of factors (``data.groups = "pairs"``);
  ``ada_gvae`` against ``vae`` and the beta-VAE (``vae`` with ``model.beta``); every
  disentanglement score of :mod:`pyro_vae.evaluation.disentanglement`. ``--network``
  picks the MLP (512-256) or the convolutional networks (``conv``: 32 and 64 channels;
  ``conv3``: 32, 32 and 64 channels, halving to 4x4 like Locatello et al.'s encoders; 256 units)
  for every model alike.
- ``mnist`` (``--data-root`` holding ``MNIST/raw``): ``group_vae`` on groups sharing the
  digit; the digit predicted from ``s`` and from ``z`` (logistic regression), and the
  share of swapped images (content of one test image, style of another) that a
  logistic regression trained on real MNIST pixels assigns to the content image's digit
  (with that classifier's own test accuracy).

    python benchmarks/disentangle.py shapes --model ada_gvae --minutes 30 --out runs/dis_ada_gvae.json
    python benchmarks/disentangle.py shapes --model ada_gvae --network conv3 --minutes 30 --report-every 10
    python benchmarks/disentangle.py mnist --data-root ../shared/data --minutes 30 --out runs/dis_mnist.json
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from pyro_vae.assemble import initial_vae, prepare_data
from pyro_vae.config import resolve_config
from pyro_vae.data import DataBundle
from pyro_vae.training import Trainer

SHAPES = [
    "data.name=shapes",
    "data.image_size=32",
    "data.n=20000",
    "model.z_dim=10",
    "eval.samples=10",
]
#: ``--network``: the encoder and decoder of every shapes model (the same for all, like for like)
NETWORKS = {
    "mlp": "model.network.hidden=[512,256]",
    "conv": 'model.network={name="conv", channels=[32, 64], fc=256}',
    "conv3": 'model.network={name="conv", channels=[32, 32, 64], fc=256}',
}
SHAPES_MODELS = {
    "ada_gvae": ["model.kind=ada_gvae", "data.groups=pairs", "data.shared_factors=0"],
    "ada_gvae_beta2": ["model.kind=ada_gvae", "data.groups=pairs", "data.shared_factors=0", "model.beta=2"],
    "ada_gvae_beta4": ["model.kind=ada_gvae", "data.groups=pairs", "data.shared_factors=0", "model.beta=4"],
    "beta_vae": ["model.beta=4"],
    "vae": [],
}
MNIST = [
    "data.name=mnist",
    "model.kind=group_vae",
    "model.z_dim=8",
    "model.s_dim=8",
    "data.group_size=4",
    "model.network.hidden=[512,256]",
    "model.adversary=10",
    "model.swap_adversary=1",
]


def train_for(
    overrides: list[str], minutes: float, report_every: float = 0.0, report: Callable[[Trainer], None] | None = None
) -> Trainer:
    """A model trained for ``minutes`` of CPU time (whole epochs; the last parameters kept).

    With ``report`` and ``report_every > 0``, ``report(trainer)`` runs (in eval mode, not
    counted) each time another ``report_every`` minutes of training have passed.
    """
    config = resolve_config(None, overrides=overrides)
    data = prepare_data(config)
    trainer = Trainer(initial_vae(config, data), config, data, progress=False)
    next_report = 60 * report_every
    while trainer.train_seconds < 60 * minutes:
        trainer.vae.train()
        start = time.process_time()
        trainer.train_epoch()
        trainer.train_seconds += time.process_time() - start
        trainer.epoch += 1
        if report is not None and report_every > 0 and trainer.train_seconds >= next_report:
            trainer.vae.eval()
            report(trainer)
            next_report += 60 * report_every
    trainer.vae.eval()
    return trainer


def _print_row(name: str, row: dict[str, Any]) -> None:
    print(name, json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)


def _shapes_row(trainer: Trainer) -> dict[str, Any]:
    from pyro_vae.evaluation.groups import code_metrics, factor_gaps

    minutes = trainer.train_seconds / 60
    gaps = [round(g, 3) for g in factor_gaps(trainer.vae, trainer.data)]
    return {
        "epochs": trainer.epoch,
        "cpu_minutes": minutes,
        **code_metrics(trainer.vae, trainer.data),
        "mig_per_factor": gaps,
    }


def _report(name: str, trainer: Trainer) -> None:
    _print_row(name, _shapes_row(trainer))


def shapes(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    rows = {}
    for name in args.model or list(SHAPES_MODELS):
        overrides = [*SHAPES, NETWORKS[args.network], *SHAPES_MODELS[name], *args.set]
        report = functools.partial(_report, name)
        trainer = train_for(overrides, args.minutes, args.report_every, report)
        rows[name] = _shapes_row(trainer)
        _print_row(name, rows[name])
    return rows


class PixelClassifier:
    """The digit from real pixels: a one-hidden-layer network (256 units) fitted with Adam for a few epochs."""

    def __init__(self, data: DataBundle, epochs: int = 5, seed: int = 0) -> None:
        torch.manual_seed(seed)
        x, y = data.train.x.flatten(1), data.train.labels.long()
        self.net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
        optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        for _ in range(epochs):
            for rows in torch.randperm(len(x)).split(128):
                loss = torch.nn.functional.cross_entropy(self.net(x[rows]), y[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

    @torch.no_grad()
    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.net(torch.as_tensor(x)).argmax(-1).numpy()

    def score(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == y))


def swap_accuracy(vae: Any, data: DataBundle, classifier: PixelClassifier, n: int = 2000) -> float:
    """Share of images swapped between random test images (content of one, style of another) that
    ``classifier`` assigns to the content image's digit."""
    generator = torch.Generator().manual_seed(0)
    content, style = (torch.randperm(len(data.test), generator=generator)[:n] for _ in range(2))
    with torch.no_grad():
        s = vae.split_code(vae.encode(data.test.x[content])[0])[0]
        z = vae.split_code(vae.encode(data.test.x[style])[0])[1]
        swapped = vae.decode(torch.cat([s, z], -1))
    predicted = classifier.predict(swapped.flatten(1).numpy())
    return float(np.mean(predicted == data.test.labels[content].numpy()))


def mnist(args: argparse.Namespace) -> dict[str, Any]:
    from pyro_vae.evaluation.groups import group_metrics

    overrides = [*MNIST, f"data.root={args.data_root}", *args.set]
    classifier = PixelClassifier(prepare_data(resolve_config(None, overrides=overrides)))

    def row_of(trainer: Trainer) -> dict[str, Any]:
        vae, data = trainer.vae, trainer.data
        row = {"epochs": trainer.epoch, "cpu_minutes": trainer.train_seconds / 60, **group_metrics(vae, data)}
        test_x, test_y = data.test.x.flatten(1).numpy(), data.test.labels.numpy()
        row["pixel_classifier_test_accuracy"] = float(classifier.score(test_x, test_y))
        row["swaps_classified_as_content_digit"] = swap_accuracy(vae, data, classifier)
        return row

    trainer = train_for(overrides, args.minutes, args.report_every, lambda t: _print_row("group_vae", row_of(t)))
    row = row_of(trainer)
    _print_row("group_vae", row)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["shapes", "mnist"])
    parser.add_argument("--minutes", type=float, default=30.0, help="training CPU time per model (one thread)")
    parser.add_argument("--model", action="append", choices=list(SHAPES_MODELS), help="shapes: this model only")
    parser.add_argument("--network", choices=list(NETWORKS), default="mlp", help="shapes: the networks")
    parser.add_argument("--report-every", type=float, default=0.0, help="print scores every this many minutes")
    parser.add_argument("--set", action="append", default=[], help="extra config override (repeatable)")
    parser.add_argument("--data-root", default="../shared/data", help="folder holding MNIST/raw (mnist)")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = shapes(args) if args.dataset == "shapes" else mnist(args)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
