"""Semi-supervised digits: pyro-vae's ``ss_vae`` defaults against the obvious baselines.

For each number of labels and each seed (``seed`` and ``data.split_seed``, so
the split and the labelled images change with it), prints the test accuracy of

- logistic regression fitted on the labelled training images alone,
- label spreading (scikit-learn's ``LabelSpreading``, RBF kernel) on every image of
  the three splits, only the labelled training images keeping their label,
- ``pyro-vae fit --set model.kind=ss_vae --set data.labels=N`` with every other
  option at its default,
- the same with the MNIST recipe's terms (``model.consistency=100``,
  ``data.shift=1``, ``train.labelled_per_batch=10``),

on the same test split and labelled subset (the images as pyro-vae loads them:
scikit-learn's 8x8 digits scaled to [0, 1]), with each fit's training seconds.

    OMP_NUM_THREADS=2 python benchmarks/ss_digits.py --labels 20,50,100 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import pyro_vae
from pyro_vae.config.schema import DataConfig
from pyro_vae.data import DataBundle, load_data

#: the MNIST recipe's terms the issue added to the defaults
RECIPE = ("model.consistency=100", "data.shift=1", "train.labelled_per_batch=10")


def _flat(x: object) -> np.ndarray:
    array = np.asarray(x)
    return array.reshape(len(array), -1)


def _images(labels: int, seed: int) -> DataBundle:
    """The digits as pyro-vae splits them for ``data.labels = labels`` and ``data.split_seed = seed``, unbinarized."""
    return load_data(DataConfig(labels=labels, split_seed=seed), "none")


def logistic_regression(data: DataBundle) -> float:
    """Test accuracy of a logistic regression fitted on the labelled training images only."""
    from sklearn.linear_model import LogisticRegression

    x, y = _flat(data.train.x), np.asarray(data.train.labels)
    known = y >= 0
    model = LogisticRegression(max_iter=5000).fit(x[known], y[known])
    return float(model.score(_flat(data.test.x), np.asarray(data.test.labels)))


def label_spreading(data: DataBundle) -> float:
    """Test accuracy of label spreading over all images (training labels only; validation and test unlabelled)."""
    from sklearn.semi_supervised import LabelSpreading

    x = np.concatenate([_flat(s.x) for s in (data.train, data.val, data.test)])
    hidden = [np.full(len(s.x), -1) for s in (data.val, data.test)]
    y = np.concatenate([np.asarray(data.train.labels), *hidden])
    model = LabelSpreading(max_iter=1000).fit(x, y)
    predicted = model.transduction_[len(x) - len(data.test.x) :]
    return float((predicted == np.asarray(data.test.labels)).mean())


def ss_vae(labels: int, seed: int, extra: tuple[str, ...] = ()) -> tuple[float, float]:
    """Test accuracy of ``q(y | x)`` and training seconds of ``pyro-vae fit`` with ``model.kind=ss_vae``.

    ``eval.samples`` is lowered to 10: it sets only the test log-likelihood estimate, not the accuracy.
    """
    overrides = ["model.kind=ss_vae", f"data.labels={labels}", f"seed={seed}", f"data.split_seed={seed}"]
    overrides += ["eval.samples=10", *extra]
    result = pyro_vae.fit(overrides=overrides, pictures=False)
    return float(result.summary["test_accuracy"]["label"]), float(result.summary["train_seconds"])


def _row(labels: int, seed: int) -> dict[str, float]:
    data = _images(labels, seed)
    row = {"logreg": logistic_regression(data), "spreading": label_spreading(data)}
    row["defaults"], row["defaults_s"] = ss_vae(labels, seed)
    row["recipe"], row["recipe_s"] = ss_vae(labels, seed, RECIPE)
    return row


COLUMNS: dict[str, Callable[[float], str]] = {
    "logreg": "{:.3f}".format,
    "spreading": "{:.3f}".format,
    "defaults": "{:.3f}".format,
    "defaults_s": "{:.0f}".format,
    "recipe": "{:.3f}".format,
    "recipe_s": "{:.0f}".format,
}
HEADER = (
    "| labels | seed | logistic regression (labelled only) | label spreading (all images) | "
    "ss_vae defaults | seconds | ss_vae + recipe terms | seconds |"
)


def _print_row(labels: int, seed: str, row: dict[str, float]) -> None:
    cells = " | ".join(COLUMNS[key](row[key]) for key in COLUMNS)
    print(f"| {labels} | {seed} | {cells} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", default="20,50,100", help="comma-separated numbers of labelled images")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (seed and data.split_seed)")
    args = parser.parse_args()
    start = time.perf_counter()
    print(HEADER)
    print("|---" * 8 + "|")
    for labels in (int(n) for n in args.labels.split(",")):
        rows = []
        for seed in (int(s) for s in args.seeds.split(",")):
            rows.append(_row(labels, seed))
            _print_row(labels, str(seed), rows[-1])
        _print_row(labels, "mean", {key: statistics.mean(r[key] for r in rows) for key in COLUMNS})
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
