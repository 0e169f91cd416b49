"""The training loop: an ELBO module, a ``torch.optim`` optimizer, checkpoints and early stopping."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import pyro
import torch
from tqdm.auto import tqdm

from pyro_vae._pyro import local_params
from pyro_vae.config import RunConfig, config_to_dict
from pyro_vae.data import DataBundle, TrainingBatches, prefetch
from pyro_vae.errors import ConfigError, TrainingError
from pyro_vae.estimators import ESTIMATORS, ScopedJit
from pyro_vae.evaluation import evaluate_split
from pyro_vae.kinds import MODEL_KINDS
from pyro_vae.optim import OPTIMIZERS, SCHEDULERS
from pyro_vae.training.checkpoint import load_checkpoint, save_checkpoint
from pyro_vae.training.history import write_metrics
from pyro_vae.training.run_dir import RunDir
from pyro_vae.training.schedule import EarlyStopping, kl_weight
from pyro_vae.vae import VAE

T = TypeVar("T")

__all__ = ["Trainer", "timed"]


def timed(items: Iterable[T], seconds: list[float]) -> Iterator[T]:
    """Yield ``items``, adding the time spent waiting for each to ``seconds[0]``."""
    iterator = iter(items)
    while True:
        start = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            return
        finally:
            seconds[0] += time.perf_counter() - start
        yield item


class Trainer:
    """Fit ``vae`` on ``data`` as ``config.train`` says.

    The loss is ``estimator(model, guide)``, a :class:`torch.nn.Module` built by
    a Pyro ELBO; its parameters are optimised by a plain ``torch.optim``
    optimizer, so schedulers and gradient clipping are ordinary PyTorch.

    Parameters
    ----------
    vae
        The model/guide pair.
    config
        The whole run configuration (saved inside every checkpoint).
    data
        Prepared train/validation/test splits.
    run_dir
        Where checkpoints and ``metrics.csv`` go; ``None`` keeps everything in memory.
    log
        Called with one line per epoch (``None``: silent).
    progress
        Show a progress bar over each epoch's batches (only when writing to a terminal).
    """

    def __init__(
        self,
        vae: VAE,
        config: RunConfig,
        data: DataBundle,
        run_dir: RunDir | None = None,
        log: Callable[[str], None] | None = None,
        progress: bool = True,
    ) -> None:
        self.vae, self.config, self.data, self.run_dir = vae, config, data, run_dir
        self.kind = MODEL_KINDS.get(config.model.kind)
        self.log, self.progress = log, progress
        train = config.train
        estimator = ESTIMATORS.build(train.estimator, max_plate_nesting=vae.max_plate_nesting)
        if isinstance(estimator, ScopedJit) and train.kl_warmup_epochs > 0:
            raise ConfigError(
                f"estimator {estimator.name!r} compiles the loss once and cannot follow a changing "
                "KL weight: set train.kl_warmup_epochs = 0 or use the estimator without 'jit_'"
            )
        self.loss = estimator(vae.model, vae.guide)
        self.optimizer = OPTIMIZERS.build(train.optimizer, params=self.loss.parameters(), lr=train.lr)
        self.scheduler = SCHEDULERS.build(train.scheduler, optimizer=self.optimizer, epochs=train.epochs)
        self.stopper = EarlyStopping(train.patience)
        self.data_rng = torch.Generator().manual_seed(config.seed)
        self.history: list[dict[str, float]] = []
        self.epoch = self.step = 0
        self.train_seconds = 0.0
        self._best_state: dict[str, torch.Tensor] | None = None
        #: what selects the best epoch (:meth:`VAE.selection`), known after the first validation
        self.selected_by = "validation ELBO"

    # -- one step, one epoch -------------------------------------------------------------

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None, beta: float) -> float:
        """One gradient step on batch ``x`` (labels ``y`` for semi-supervised kinds); returns the summed loss."""
        with local_params(), pyro.validation_enabled(self.config.train.validate_distributions):
            loss = self.loss(x, kl_weight=beta) if y is None else self.loss(x, y, kl_weight=beta)
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingError(
                f"the loss became {value} at epoch {self.epoch + 1}, step {self.step}: lower train.lr, "
                "set train.grad_clip (e.g. 10), or check the data scale against the likelihood"
            )
        (loss / x.shape[0]).backward()
        if self.config.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.loss.parameters(), self.config.train.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return value

    def train_epoch(self) -> dict[str, float]:
        """One pass over the training split; returns the mean training bound, KL weight and seconds spent on data."""
        cfg = self.config.train
        batches = TrainingBatches(
            self.data.train,
            cfg.batch_size,
            cfg.labelled_per_batch if self.kind.uses_labels else 0,
            self.data_rng,
            self.data.binarize == "dynamic",
            self.config.data.shift,
        )
        total, seen, beta, waiting = 0.0, 0, 1.0, [0.0]
        desc = f"epoch {self.epoch + 1}/{cfg.epochs}"
        # disable=None: no bar when output is not a terminal (logs, CI)
        disable = None if self.progress else True
        with tqdm(total=len(batches), desc=desc, disable=disable, leave=False, dynamic_ncols=True) as bar:
            for x, y in timed(prefetch(batches), waiting):
                self.step += 1
                beta = kl_weight(self.step, len(batches), cfg.kl_warmup_epochs)
                total += self.train_step(x, y if self.kind.uses_labels else None, beta)
                seen += x.shape[0]
                bar.set_postfix(elbo=f"{-total / seen:.3f}", refresh=False)
                bar.update()
        return {"train_elbo": -total / seen, "kl_weight": beta, "data_seconds": waiting[0]}

    def validate(self) -> float:
        """Validation ELBO per example (one sample per example, common random numbers across epochs)."""
        cfg = self.config.eval
        return evaluate_split(self.vae, self.data.val, samples=1, batch_size=cfg.batch_size, seed=cfg.seed).elbo

    # -- the loop ------------------------------------------------------------------------

    def fit(self) -> list[dict[str, float]]:
        """Train until ``train.epochs`` or early stopping; returns the history of all epochs."""
        self.vae.train()
        while self.epoch < self.config.train.epochs and not self.stopper.should_stop:
            start = time.perf_counter()
            row = self.train_epoch()
            val = self.validate()
            seconds = time.perf_counter() - start
            self.epoch += 1
            self.train_seconds += seconds
            metrics = self.vae.validation_metrics(self.data.val)
            self.selected_by, score = self.vae.selection(val, metrics)
            improved = self.stopper.update(score, self.epoch, tie=val)
            row.update(epoch=self.epoch, val_elbo=val, lr=self.optimizer.param_groups[0]["lr"], seconds=seconds)
            row.update(metrics)
            self.history.append(row)
            self.scheduler.step()
            self._record(improved)
            self._say(row, improved)
        return self.history

    @property
    def stopped_early(self) -> bool:
        return self.stopper.should_stop and self.epoch < self.config.train.epochs

    def _say(self, row: dict[str, float], improved: bool) -> None:
        if self.log is not None:
            mark = " *" if improved else ""
            self.log(
                f"epoch {row['epoch']:>4d}/{self.config.train.epochs}  train elbo {row['train_elbo']:10.3f}  "
                f"val elbo {row['val_elbo']:10.3f}  {row['seconds']:6.2f}s{mark}"
            )
            if self.stopped_early:
                self.log(
                    f"early stop: no better {self.selected_by} for {self.stopper.patience} epochs "
                    f"(best {self.stopper.best:.3f} at epoch {self.stopper.best_epoch})"
                )

    # -- state ---------------------------------------------------------------------------

    def _record(self, improved: bool) -> None:
        if improved:
            self._best_state = copy.deepcopy(self.vae.state_dict())
        if self.run_dir is None:
            return
        if improved:
            save_checkpoint(self._best_payload(), self.run_dir.best)
        save_checkpoint(self.state_dict(), self.run_dir.checkpoint)
        write_metrics(self.history, self.run_dir.metrics)

    def _best_payload(self) -> dict[str, Any]:
        return {
            "model": self.vae.state_dict(),
            "config": config_to_dict(self.config),
            "event_shape": list(self.data.event_shape),
            "classes": list(self.data.shape.classes),
            "epoch": self.epoch,
        }

    def restore_best(self) -> None:
        """Load the parameters of the selected epoch (best validation ELBO, or what :meth:`VAE.selection` says)."""
        if self._best_state is not None:
            self.vae.load_state_dict(self._best_state)
        elif self.run_dir is not None and self.run_dir.best.is_file():
            self.vae.load_state_dict(load_checkpoint(self.run_dir.best)["model"])

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly where it stopped."""
        return {
            **self._best_payload(),
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "stopper": self.stopper.state_dict(),
            "selected_by": self.selected_by,
            "history": self.history,
            "train_seconds": self.train_seconds,
            "torch_rng": torch.get_rng_state(),
            "data_rng": self.data_rng.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict`; a run that had stopped early gets fresh patience."""
        self.vae.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.stopper.load_state_dict(state["stopper"])
        self.selected_by = str(state.get("selected_by", self.selected_by))
        if self.stopper.should_stop:
            self.stopper.bad_epochs = 0
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history = [dict(row) for row in state["history"]]
        self.train_seconds = float(state["train_seconds"])
        torch.set_rng_state(state["torch_rng"])
        self.data_rng.set_state(state["data_rng"])

    @property
    def best_val_elbo(self) -> float:
        """Validation ELBO of the selected epoch (``-inf`` before the first)."""
        best = self.stopper.best_epoch
        return self.history[best - 1]["val_elbo"] if 0 < best <= len(self.history) else -math.inf
