"""Features from a fitted VAE's encoder as data: the M1 stage of M1+M2 (Kingma et al. 2014)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from pyro_vae.data._registry import DATASETS, RawData
from pyro_vae.data.mapped import MappedRows, scaled
from pyro_vae.errors import DataError

__all__ = ["vae_features"]

#: examples per forward pass through the encoder
_CHUNK = 2000


def _encode(vae: object, x: Tensor | MappedRows) -> tuple[Tensor, Tensor]:
    with torch.no_grad():
        pairs = [vae.encode(chunk) for chunk in x.split(_CHUNK)]
    return torch.cat([m for m, _ in pairs]), torch.cat([s for _, s in pairs])


@DATASETS.register("vae_features")
def vae_features(run: str | None = None, resample: bool = True) -> RawData:
    """Mean (and scale) of ``q(z | x)`` of a fitted VAE for every example of the data it was fitted on.

    The examples of the run's own data source (scaled as in that run, not
    binarized) are encoded; labels and the official test split come along.
    With ``resample`` the training examples are drawn afresh from
    ``q(z | x)`` every epoch (as M1+M2 does); evaluation uses the means.

    Parameters
    ----------
    run
        Run directory of the fitted VAE (``pyro-vae fit ... --out RUN``).
    resample
        Resample training features from ``q(z | x)`` each epoch (else use the means).
    """
    from pyro_vae.assemble import load_best
    from pyro_vae.training import RunDir

    if not run:
        raise DataError("data source 'vae_features' needs data.run: the run directory of a fitted VAE")
    vae, config, _ = load_best(RunDir.open(Path(run).expanduser(), need_best=True))
    if config.data.name in ("array", "vae_features"):
        raise DataError(
            f"data.run {run!r} was fitted on data source {config.data.name!r}, which cannot be "
            "reloaded from its run directory: fit the feature VAE on a dataset or a file"
        )
    raw = DATASETS.build(config.data.source_spec())
    scale = raw.auto_scale if config.data.scale == "auto" else float(config.data.scale)
    loc, noise = _encode(vae, scaled(raw.x, scale))
    test = None if raw.test_x is None else _encode(vae, scaled(raw.test_x, scale))[0]
    return RawData(
        x=loc, labels=raw.labels, test_x=test, test_labels=raw.test_labels, noise=noise if resample else None
    )
