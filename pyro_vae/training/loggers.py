"""Where each epoch's figures go besides ``metrics.csv``: ``train.loggers`` names them.

``"csv"`` is ``metrics.csv`` itself, written with every checkpoint whatever the list says
(resume, ``diagnose`` and the training curve read it). ``"tensorboard"`` writes, through
``torch.utils.tensorboard``, the scalars of each epoch's row (training bound, validation
ELBO, learning rate, KL weight, seconds, and any figure the model kind adds) and, for image
data, 16 samples from the prior and 16 validation reconstructions, into ``RUN_DIR/tensorboard``
(``tensorboard --logdir RUN_DIR/tensorboard``). TensorBoard is an optional package:
``pip install 'pyro-vae[tensorboard]'``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import torch
from torch import Tensor

from pyro_vae.config.validate import TENSORBOARD_MISSING
from pyro_vae.errors import ConfigError

if TYPE_CHECKING:
    from pyro_vae.data import DataBundle
    from pyro_vae.training.run_dir import RunDir
    from pyro_vae.vae import VAE

__all__ = ["LOGGER_FACTORIES", "EpochLogger", "TensorBoardLogger", "open_loggers"]

#: folder of the TensorBoard event files inside a run directory
TENSORBOARD_FOLDER = "tensorboard"
#: examples drawn and reconstructed for each epoch's pictures
PICTURE_EXAMPLES = 16


class EpochLogger(Protocol):
    """Receives each completed epoch's row (as in ``metrics.csv``) and the model after it."""

    def log_epoch(self, row: dict[str, float], vae: VAE, data: DataBundle) -> None: ...

    def close(self) -> None: ...


class TensorBoardLogger:
    """Scalars of every epoch and, for images, sample and reconstruction grids, as TensorBoard events.

    Parameters
    ----------
    folder
        Where the event files go (``RUN_DIR/tensorboard``).
    first_epoch
        The epoch training starts with: events of this epoch and later left by an earlier
        process (a resumed run, training again from its last checkpoint) are purged.

    Raises
    ------
    ConfigError
        If the ``tensorboard`` package is missing (the message gives the install command).
    """

    def __init__(self, folder: Path, first_epoch: int = 1) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError(TENSORBOARD_MISSING) from None
        self.writer = SummaryWriter(log_dir=str(folder), purge_step=first_epoch if first_epoch > 1 else None)

    def log_epoch(self, row: dict[str, float], vae: VAE, data: DataBundle) -> None:
        """Every figure of ``row`` under ``epoch/<name>``, then the pictures, at step ``row["epoch"]``."""
        step = int(row["epoch"])
        for name, value in row.items():
            if name != "epoch":
                self.writer.add_scalar(f"epoch/{name}", value, step)
        if data.is_image:
            self._pictures(vae, data, step)
        self.writer.flush()

    @torch.no_grad()
    def _pictures(self, vae: VAE, data: DataBundle, step: int) -> None:
        was_training = vae.training
        vae.eval()
        try:
            with torch.random.fork_rng():  # the pictures leave training's random stream alone
                torch.manual_seed(step)
                samples = vae.sample(PICTURE_EXAMPLES)
            originals = data.val.x[:PICTURE_EXAMPLES]
            reconstructions = vae.reconstruct(originals)
        finally:
            vae.train(was_training)
        low, high = float(data.val.x.min()), float(data.val.x.max())
        self.writer.add_images("samples", _unit(samples, low, high), step)
        self.writer.add_images("reconstructions", _unit(torch.cat([originals, reconstructions]), low, high), step)

    def close(self) -> None:
        self.writer.close()


def _unit(images: Tensor, low: float, high: float) -> Tensor:
    """Images ``(N, C, H, W)`` mapped from the data's range to ``[0, 1]``."""
    return ((images - low) / max(high - low, 1e-12)).clamp(0, 1)


def _tensorboard(run: RunDir, first_epoch: int) -> TensorBoardLogger:
    return TensorBoardLogger(run.root / TENSORBOARD_FOLDER, first_epoch)


#: logger name -> factory ``(run directory, first epoch) -> logger``; "csv" needs none (metrics.csv is always written)
LOGGER_FACTORIES: dict[str, Callable[[RunDir, int], EpochLogger] | None] = {"csv": None, "tensorboard": _tensorboard}


def open_loggers(names: list[str], run: RunDir | None, first_epoch: int) -> list[EpochLogger]:
    """The loggers ``train.loggers`` names, for a run starting at ``first_epoch``.

    Raises
    ------
    ConfigError
        If a logger that writes files is asked for without a run directory, or its package is missing.
    """
    loggers = []
    for name in names:
        factory = LOGGER_FACTORIES[name]
        if factory is None:
            continue
        if run is None:
            raise ConfigError(f"train.loggers = {name!r} writes into the run directory: pass out=RUN_DIR to fit")
        loggers.append(factory(run, first_epoch))
    return loggers
