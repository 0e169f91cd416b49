"""Features from a fitted VAE's encoder as data: the M1 stage of M1+M2 (Kingma et al. 2014)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from pyro_vae.data._registry import DATASETS, RawData
from pyro_vae.data.mapped import MappedRows, scaled
from pyro_vae.errors import DataError

if TYPE_CHECKING:
    from pyro_vae.config.schema import DataConfig

__all__ = ["FittedEncoder", "vae_features"]

#: examples per forward pass through the encoder
_CHUNK = 2000


@dataclass(frozen=True)
class FittedEncoder:
    """What ``vae_features`` needs of a fitted run: its encoder and the data it was fitted on.

    Attributes
    ----------
    encode
        ``x`` ``(B, *event_shape)`` -> mean and standard deviation of ``q(z | x)``, each ``(B, z_dim)``.
    data
        The run's ``[data]`` section (its source, options and scale).
    """

    encode: Callable[[Tensor], tuple[Tensor, Tensor]]
    data: DataConfig


def _encode(encoder: FittedEncoder, x: Tensor | MappedRows) -> tuple[Tensor, Tensor]:
    with torch.no_grad():
        pairs = [encoder.encode(chunk) for chunk in x.split(_CHUNK)]
    return torch.cat([m for m, _ in pairs]), torch.cat([s for _, s in pairs])


@DATASETS.register("vae_features")
def vae_features(
    run: str | None = None, resample: bool = True, open_run: Callable[[str], FittedEncoder] | None = None
) -> RawData:
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
    open_run
        Opens ``run`` (supplied by pyro-vae, not a user option: reading run
        directories belongs to a higher layer than data sources).

    Raises
    ------
    DataError
        Without ``run``, or for a run fitted on data that cannot be reloaded.
    """
    if not run:
        raise DataError("data source 'vae_features' needs data.run: the run directory of a fitted VAE")
    if open_run is None:
        raise DataError(
            "data source 'vae_features' is loaded through pyro_vae.fit or pyro-vae fit, which open data.run"
        )
    encoder = open_run(run)
    if encoder.data.name in ("array", "vae_features"):
        raise DataError(
            f"data.run {run!r} was fitted on data source {encoder.data.name!r}, which cannot be "
            "reloaded from its run directory: fit the feature VAE on a dataset or a file"
        )
    raw = DATASETS.build(encoder.data.source_spec())
    scale = raw.auto_scale if encoder.data.scale == "auto" else float(encoder.data.scale)
    loc, noise = _encode(encoder, scaled(raw.x, scale))
    test = None if raw.test_x is None else _encode(encoder, scaled(raw.test_x, scale))[0]
    return RawData(
        x=loc, labels=raw.labels, test_x=test, test_labels=raw.test_labels, noise=noise if resample else None
    )
