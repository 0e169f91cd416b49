"""Issue 14's measurements: disentanglement of group models against plain and beta-VAE baselines, same budget.

Each model trains for ``--minutes`` of training time (no early stop, the last
parameters kept), then is scored on the test split:

- ``shapes``: pairs sharing a random number of factors (``data.groups = "pairs"``);
  ``ada_gvae`` against ``vae`` and the beta-VAE (``vae`` with ``model.beta``); every
  disentanglement score of :mod:`pyro_vae.evaluation.disentanglement`.
- ``mnist`` (``--data-root`` holding ``MNIST/raw``): ``group_vae`` on groups sharing the
  digit; the digit predicted from ``s`` and from ``z`` (logistic regression), and the
  share of swapped images (content of one test image, style of another) that a
  logistic regression trained on real MNIST pixels assigns to the content image's digit
  (with that classifier's own test accuracy).

    OMP_NUM_THREADS=2 python benchmarks/disentangle.py shapes --minutes 30 --out runs/dis_shapes.json
    OMP_NUM_THREADS=2 python benchmarks/disentangle.py mnist --data-root ../shared/data --minutes 30
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from pyro_vae.assemble import initial_vae, prepare_data
from pyro_vae.config import resolve_config
from pyro_vae.training import Trainer

SHAPES = [
    "data.name=shapes",
    "data.image_size=32",
    "data.n=20000",
    "model.z_dim=10",
    "model.network.hidden=[512,256]",
    "eval.samples=10",
]
SHAPES_MODELS = {
    "ada_gvae": ["model.kind=ada_gvae", "data.groups=pairs", "data.shared_factors=0"],
    "beta_vae": ["model.beta=4"],
    "vae": [],
}
MNIST = ["data.name=mnist", "model.kind=group_vae", "model.z_dim=8", "model.s_dim=8", "data.group_size=4"]


def train_for(overrides: list[str], minutes: float) -> Trainer:
    """A model trained for ``minutes`` of training time (whole epochs; the last parameters kept)."""
    config = resolve_config(None, overrides=overrides)
    data = prepare_data(config)
    trainer = Trainer(initial_vae(config, data), config, data, progress=False)
    trainer.vae.train()
    while trainer.train_seconds < 60 * minutes:
        start = time.perf_counter()
        trainer.train_epoch()
        trainer.train_seconds += time.perf_counter() - start
        trainer.epoch += 1
    trainer.vae.eval()
    return trainer


def shapes(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    rows = {}
    for name, extra in SHAPES_MODELS.items():
        trainer = train_for([*SHAPES, *extra], args.minutes)
        from pyro_vae.evaluation.groups import code_metrics

        rows[name] = {"epochs": trainer.epoch, **code_metrics(trainer.vae, trainer.data)}
        print(name, json.dumps({k: round(v, 4) for k, v in rows[name].items()}), flush=True)
    return rows


def mnist(args: argparse.Namespace) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    from pyro_vae.evaluation.groups import group_metrics

    trainer = train_for([*MNIST, f"data.root={args.data_root}"], args.minutes)
    vae, data = trainer.vae, trainer.data
    row = {"epochs": trainer.epoch, **group_metrics(vae, data)}
    pixels = LogisticRegression(max_iter=500).fit(data.train.x[:20000].flatten(1).numpy(), data.train.labels[:20000])
    row["pixel_classifier_test_accuracy"] = float(pixels.score(data.test.x.flatten(1).numpy(), data.test.labels))
    generator = torch.Generator().manual_seed(0)
    content, style = (torch.randperm(len(data.test), generator=generator)[:2000] for _ in range(2))
    with torch.no_grad():
        s = vae.split_code(vae.encode(data.test.x[content])[0])[0]
        z = vae.split_code(vae.encode(data.test.x[style])[0])[1]
        swapped = vae.decode(torch.cat([s, z], -1))
    predicted = pixels.predict(swapped.flatten(1).numpy())
    row["swaps_classified_as_content_digit"] = float(np.mean(predicted == data.test.labels[content].numpy()))
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["shapes", "mnist"])
    parser.add_argument("--minutes", type=float, default=30.0, help="training time per model")
    parser.add_argument("--data-root", default="../shared/data", help="folder holding MNIST/raw (mnist)")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    results = shapes(args) if args.dataset == "shapes" else mnist(args)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
