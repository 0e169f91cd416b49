"""Built-in datasets: scikit-learn's digits (embedded), MNIST and FashionMNIST (torchvision)."""

from __future__ import annotations

from pathlib import Path

import torch
from sklearn.datasets import load_digits

from pyro_vae.data._registry import DATASETS, RawData
from pyro_vae.errors import DataError

__all__ = ["digits", "fashion_mnist", "mnist"]


@DATASETS.register("digits")
def digits() -> RawData:
    """scikit-learn's 1,797 handwritten digits, 8x8 pixels in 0..16, with labels; ships offline."""
    bunch = load_digits()
    x = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1)
    return RawData(x=x, labels=torch.as_tensor(bunch.target, dtype=torch.int64), auto_scale=16.0)


def _torchvision(cls_name: str, root: str, download: bool) -> RawData:
    import torchvision.datasets

    cls = getattr(torchvision.datasets, cls_name)
    folder = Path(root) / cls_name / "raw"
    try:
        train = cls(root=root, train=True, download=download)
        test = cls(root=root, train=False, download=download)
    except (RuntimeError, OSError) as err:
        reason = " ".join(str(err).split())
        if download:
            raise DataError(
                f"could not download {cls_name} to {folder} ({reason}); this machine may be offline: "
                f"copy the four IDX files into {folder} and set data.download = false"
            ) from None
        raise DataError(
            f"{cls_name} not found under {folder} ({reason}): put the four IDX files there "
            f"(torchvision's layout), point data.root at the folder that holds {cls_name}/, "
            "or set data.download = true to fetch them"
        ) from None
    return RawData(
        x=train.data.to(torch.float32).unsqueeze(1),
        labels=train.targets.to(torch.int64),
        test_x=test.data.to(torch.float32).unsqueeze(1),
        test_labels=test.targets.to(torch.int64),
        auto_scale=255.0,
    )


@DATASETS.register("mnist")
def mnist(root: str = "data", download: bool = False) -> RawData:
    """MNIST through torchvision: 60,000 training and 10,000 test digits, 28x28, 8-bit.

    Parameters
    ----------
    root
        Folder holding ``MNIST/raw/`` (torchvision's layout).
    download
        Fetch the files if they are missing (needs the network).
    """
    return _torchvision("MNIST", root, download)


@DATASETS.register("fashion_mnist")
def fashion_mnist(root: str = "data", download: bool = False) -> RawData:
    """FashionMNIST through torchvision: 60,000 training and 10,000 test images, 28x28, 8-bit.

    Parameters
    ----------
    root
        Folder holding ``FashionMNIST/raw/`` (torchvision's layout).
    download
        Fetch the files if they are missing (needs the network).
    """
    return _torchvision("FashionMNIST", root, download)
