"""Issue 16, data in: the same MNIST images as an array, a torchvision dataset and a stream, side by side.

Reports the seconds to prepare the data (reading a dataset item by item, surveying a stream),
the seconds per training epoch, and the test ELBO, for each form, in one process:

    OMP_NUM_THREADS=1 python benchmarks/byo_data.py --root ../shared/data --n 20000 --epochs 2
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader, Subset, TensorDataset
from torchvision.datasets import MNIST
from torchvision.transforms import ToTensor

import pyro_vae


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="../shared/data")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = Subset(MNIST(args.root, train=True, transform=ToTensor()), range(args.n))
    start = time.perf_counter()
    x = torch.stack([dataset[i][0] for i in range(args.n)])
    print(f"reading {args.n} torchvision items by hand: {time.perf_counter() - start:.2f} s")
    val, test = x[-2000:-1000], x[-1000:]
    common = {"epochs": args.epochs, "z_dim": 16, "eval.samples": 10, "data.binarize": "fixed", "batch_size": 128}
    forms = {
        "array": {"data": x[:-2000], "val_data": val, "test_data": test},
        "Dataset": {"data": Subset(dataset, range(args.n - 2000)), "val_data": val, "test_data": test},
        "DataLoader stream": {
            "data": DataLoader(TensorDataset(x[:-2000]), batch_size=500, num_workers=args.workers),
            "val_data": val,
            "test_data": test,
        },
    }
    pyro_vae.fit(data=x[:500], **{**common, "epochs": 1})  # warm-up: the first fit of a process pays for imports
    print("| form | fit seconds | seconds per epoch | test ELBO |")
    print("|---|---|---|---|")
    for name, data in forms.items():
        start = time.perf_counter()
        result = pyro_vae.fit(**data, **common)
        total = time.perf_counter() - start
        per_epoch = result.summary["seconds_per_epoch"]
        print(f"| {name} | {total:.1f} | {per_epoch:.2f} | {result.summary['test_elbo']:.2f} |")


if __name__ == "__main__":
    main()
