"""The training loop: an ELBO module, a ``torch.optim`` optimizer, checkpoints and early stopping."""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

import pyro
import torch
from tqdm.auto import tqdm

from pyro_vae._device import resolve_device
from pyro_vae._pyro import local_params
from pyro_vae._ranks import Ranks
from pyro_vae.config import RunConfig, config_to_dict
from pyro_vae.data import DataBundle, prefetch
from pyro_vae.errors import ConfigError, TrainingError
from pyro_vae.estimators import ESTIMATORS, ScopedJit, estimator_state, load_estimator_state
from pyro_vae.evaluation import evaluate_split
from pyro_vae.kinds import MODEL_KINDS
from pyro_vae.optim import OPTIMIZERS, SCHEDULERS
from pyro_vae.registry import normalize_spec
from pyro_vae.training.checkpoint import load_checkpoint, save_checkpoint
from pyro_vae.training.device import StepLosses, epoch_generator, get_device_rng, set_device_rng, sync_every
from pyro_vae.training.distributed import TrainingProcesses
from pyro_vae.training.divergence import DivergedError, DivergenceCheck
from pyro_vae.training.history import write_metrics
from pyro_vae.training.loggers import EpochLogger, open_loggers
from pyro_vae.training.precision import Precision, compile_networks, network_modules
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

    Notes
    -----
    The learning rate of epoch ``e`` is always the configured schedule's, from
    ``train.lr * lr_scale`` (``lr_scale`` halves at each divergence rollback), after
    ``e - 1`` scheduler steps: :meth:`load_state_dict` rebuilds the scheduler from the
    config and replays the epochs done, so a resumed run follows a changed ``train.lr``,
    scheduler or ``train.epochs`` (the cosine horizon), and an unchanged one exactly.
    Divergence is handled as :mod:`pyro_vae.training.divergence` describes.

    The VAE and the data are moved to ``train.device`` (:meth:`_place`); each step's loss
    stays there and is read every :attr:`sync_every` steps (:mod:`pyro_vae.training.device`).
    ``train.precision`` and ``train.compile`` apply to the networks (:mod:`pyro_vae.training.precision`).

    Raises
    ------
    ConfigError
        If ``train.device`` is not available here, or a ``jit_`` estimator meets a KL warm-up.

    Inside a ``torch.distributed`` run of several processes (torchrun), every process runs
    a trainer: each draws its shard of every batch, the loss goes through
    ``DistributedDataParallel``, and process 0's validation figures decide for all
    (:mod:`pyro_vae.training.distributed`); only a trainer given a ``run_dir`` writes.
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
        self.device = resolve_device(train.device)
        estimator = ESTIMATORS.build(train.estimator, max_plate_nesting=vae.max_plate_nesting)
        if isinstance(estimator, ScopedJit) and train.kl_warmup_epochs > 0:
            raise ConfigError(
                f"estimator {estimator.name!r} compiles the loss once and cannot follow a changing "
                "KL weight: set train.kl_warmup_epochs = 0 or use the estimator without 'jit_'"
            )
        self.estimator = estimator
        self._place()
        self.processes = TrainingProcesses(Ranks.current(), config.seed, self.device)
        #: steps between reads of the losses (one host sync, and under DDP one all-reduce, each)
        self.sync_every = sync_every(self.device, self.processes.ranks.distributed)
        self.loss = estimator(vae.model, vae.guide)
        critic = vae.critic_parameters()
        if critic and self.processes.ranks.distributed:
            raise ConfigError(
                "model.swap_adversary trains a critic in steps of its own, which several processes (DDP) do not "
                "share yet: train this model on one process, or set model.swap_adversary = 0"
            )
        own = {id(p) for p in critic}
        params = [p for p in self.loss.parameters() if id(p) not in own]
        self.optimizer = OPTIMIZERS.build(train.optimizer, params=params, lr=train.lr)
        #: a critic's optimizer (same kind and learning rate), stepped after each ELBO step; ``None``: no critic
        self.critic_optimizer = OPTIMIZERS.build(train.optimizer, params=critic, lr=train.lr) if critic else None
        #: the loss as each step computes it: ``loss``, or ``loss`` in DistributedDataParallel
        self.step_loss = self.processes.wrap(self.loss)
        #: every process's own random streams and estimator state, gathered at the end of each epoch
        self._rank_states: list[dict[str, Any]] | None = None
        #: examples in the last step's batch, over all processes
        self.step_examples = 0
        self.stopper = EarlyStopping(train.patience)
        self.divergence = DivergenceCheck(train.divergence_factor)
        self.data_rng = torch.Generator().manual_seed(config.seed)
        self.history: list[dict[str, float]] = []
        self.epoch = self.step = self.rollbacks = 0
        self.lr_scale = 1.0
        self.train_seconds = 0.0
        self._best_state: dict[str, torch.Tensor] | None = None
        #: what selects the best epoch (:meth:`VAE.selection`), known after the first validation
        self.selected_by = "validation ELBO"
        self._last_good: dict[str, Any] | None = None
        #: the loggers of train.loggers beyond metrics.csv, open while :meth:`fit` runs
        self.loggers: list[EpochLogger] = []
        self._schedule()

    def _place(self) -> None:
        """Move the VAE and the data to :attr:`device`; set up precision, compilation and the loss reads."""
        self.vae.to(self.device)
        self.data = self.data.to(self.device)
        networks = [net for program in (self.vae.model, self.vae.guide) for net in network_modules(program)]
        if self.config.train.compile:
            compile_networks(networks)
        self.precision = Precision(str(self.config.train.precision), self.device)
        self.precision.apply(networks)

    # -- one step, one epoch -------------------------------------------------------------

    def train_step(
        self, x: torch.Tensor, y: torch.Tensor | None, beta: float, equal_shares: bool = False
    ) -> torch.Tensor:
        """One gradient step on batch ``x`` (labels ``y``: :meth:`VAE.loss_labels`).

        A model with a critic then takes the critic's step on the same batch (alternating, Mathieu et al. 2016).
        Returns this process's summed loss, detached and left on the device: nothing here waits for the
        device. :attr:`step_examples` is the number of examples of the step over all processes; with
        ``equal_shares`` (every process holds as many examples as this one) it is known without asking
        the others, else one all-reduce finds it when several train. The caller adds the processes'
        losses and checks them for divergence (:class:`~pyro_vae.training.device.StepLosses`).
        """
        with local_params(), pyro.validation_enabled(self.config.train.validate_distributions):
            loss = self.step_loss(x, kl_weight=beta) if y is None else self.step_loss(x, y, kl_weight=beta)
        self.step_examples = self.processes.global_examples(self.vae.examples_in(x), equal_shares)
        # DDP averages the processes' gradients: each divides by its share of the examples
        self.precision.backward(loss / (self.step_examples / self.processes.ranks.world))
        self.precision.step(self.optimizer, self.loss.parameters(), self.config.train.grad_clip)
        self.optimizer.zero_grad(set_to_none=True)
        if self.critic_optimizer is not None:
            self._critic_step(x, y)
        return loss.detach()

    def _critic_step(self, x: torch.Tensor, y: torch.Tensor | None) -> None:
        """One step of the critic on its own loss (:meth:`VAE.critic_loss`), averaged over the batch's examples."""
        assert self.critic_optimizer is not None
        self.critic_optimizer.zero_grad(set_to_none=True)
        (self.vae.critic_loss(x, y) / self.vae.examples_in(x)).backward()
        self.critic_optimizer.step()
        self.critic_optimizer.zero_grad(set_to_none=True)

    def train_epoch(self) -> dict[str, float]:
        """One pass over the training split; returns the mean training bound, KL weight and seconds spent on data."""
        cfg = self.config.train
        generator = epoch_generator(self.data_rng, self.device)
        dynamic = self.data.binarize == "dynamic"
        shard = self.processes.shard()
        if shard is not None:  # the process's noise drawn where the batches are (seeded from its CPU stream)
            shard = replace(shard, noise=epoch_generator(shard.noise, self.device))
        batches = self.vae.training_batches(self.data.train, self.config, generator, dynamic, shard=shard)
        reduce = self.processes.add_up if self.processes.ranks.distributed else None
        losses, beta, waiting = StepLosses(self.sync_every, reduce), 1.0, [0.0]
        desc = f"epoch {self.epoch + 1}/{cfg.epochs}"
        # disable=None: no bar when output is not a terminal (logs, CI)
        disable = None if self.progress else True
        steps = len(batches)  # once: a group batcher's length is its epoch's table of groups
        with tqdm(total=steps, desc=desc, disable=disable, leave=False, dynamic_ncols=True) as bar:
            drawn = prefetch(batches) if self.processes.spare_core() else batches
            for index, (x, y) in enumerate(timed(drawn, waiting), start=1):
                self.step += 1
                beta = kl_weight(self.step, steps, cfg.kl_warmup_epochs) * self.vae.beta
                # every batch but an epoch's last is cut in equal shares (see Shard)
                loss = self.train_step(x, self.vae.loss_labels(y), beta, equal_shares=index < steps)
                if losses.add(self.step, loss, self.step_examples):
                    _advance(bar, losses.read(self.divergence), losses)
            _advance(bar, losses.read(self.divergence), losses)
        return {"train_elbo": -losses.total / losses.seen, "kl_weight": beta, "data_seconds": waiting[0]}

    def validate(self) -> float:
        """Validation ELBO per example (one sample per example, common random numbers across epochs)."""
        cfg = self.config.eval
        return evaluate_split(self.vae, self.data.val, 1, cfg.batch_size, cfg.seed, across_ranks=True).elbo

    # -- the loop ------------------------------------------------------------------------

    def fit(self) -> list[dict[str, float]]:
        """Train until ``train.epochs`` or early stopping; returns the history of all epochs.

        Raises
        ------
        TrainingError
            If the loss diverges and ``train.on_divergence`` is ``"stop"`` or the rollbacks are used up.
        """
        self.vae.train()
        self._gather_rank_states()
        self._last_good = copy.deepcopy(self.state_dict())
        main = self.processes.ranks.is_main  # process 0 alone writes (the others have no run directory)
        self.loggers = open_loggers(self.config.train.loggers, self.run_dir, self.epoch + 1) if main else []
        try:
            while self.epoch < self.config.train.epochs and not self.stopper.should_stop:
                start = time.perf_counter()
                try:
                    row = self.train_epoch()
                    val = self.validate()
                    self.divergence.check_validation(val)
                except DivergedError as diverged:
                    self._diverged(diverged.reason, diverged.step)
                    continue
                self._finish_epoch(row, val, time.perf_counter() - start)
        finally:
            for logger in self.loggers:
                logger.close()
        return self.history

    def _finish_epoch(self, row: dict[str, float], val: float, seconds: float) -> None:
        """Record a completed epoch: history, scheduler step, checkpoints, the last good state, the log line."""
        self.epoch += 1
        self.train_seconds += seconds
        metrics = self.vae.validation_metrics(self.data.val) if self.processes.ranks.is_main else {}
        val, metrics = self.processes.from_main((val, metrics))  # process 0 decides for all
        self.selected_by, score = self.vae.selection(val, metrics)
        improved = self.stopper.update(score, self.epoch, tie=val)
        lr = self.optimizer.param_groups[0]["lr"]
        row.update(epoch=self.epoch, val_elbo=val, lr=lr, seconds=seconds, rollbacks=self.rollbacks)
        row.update(metrics)
        self.history.append(row)
        self.scheduler.step()
        self._gather_rank_states()
        self._record(improved)
        for logger in self.loggers:
            logger.log_epoch(row, self.vae, self.data)
        self._last_good = copy.deepcopy(self.state_dict())
        self._say(row, improved)

    def _diverged(self, reason: str, step: int | None = None) -> None:
        """Stop with a clear error, or go back to the last good epoch with half the learning rate."""
        cfg = self.config.train
        where = f"at epoch {self.epoch + 1}, step {self.step if step is None else step}: {reason}"
        if cfg.on_divergence == "rollback" and self.rollbacks < cfg.max_rollbacks:
            rollbacks, scale = self.rollbacks + 1, self.lr_scale / 2
            self.load_state_dict(self._last_good)
            self.rollbacks, self.lr_scale = rollbacks, scale
            self._schedule()
            if self.log is not None:
                self.log(
                    f"rollback {rollbacks} of {cfg.max_rollbacks} {where}; back to epoch {self.epoch} "
                    f"with the learning rate halved to {self.optimizer.param_groups[0]['lr']:.4g}"
                )
            return
        used = f" after {self.rollbacks} rollbacks (train.max_rollbacks)" if cfg.on_divergence == "rollback" else ""
        kept = f"; the checkpoint of epoch {self.epoch} is kept" if self.epoch and self.run_dir is not None else ""
        raise TrainingError(
            f"training diverged{used} {where}: lower train.lr, set train.grad_clip (e.g. 10), set "
            f'train.on_divergence = "rollback", or check the data scale against the likelihood{kept}'
        )

    def _schedule(self) -> None:
        """(Re)build the scheduler from the config at ``train.lr * lr_scale`` and replay the epochs done."""
        train = self.config.train
        for group in self.optimizer.param_groups:
            group["lr"] = train.lr * self.lr_scale
            group.pop("initial_lr", None)
        for group in [] if self.critic_optimizer is None else self.critic_optimizer.param_groups:
            group["lr"] = train.lr * self.lr_scale
        self.scheduler = SCHEDULERS.build(train.scheduler, optimizer=self.optimizer, epochs=train.epochs)
        with warnings.catch_warnings():
            # replayed steps come before any optimizer step of this process, which torch warns about
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step", category=UserWarning)
            for _ in range(self.epoch):
                self.scheduler.step()

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
        """Load the parameters of the selected epoch (best validation ELBO, or what :meth:`VAE.selection` says).

        With several processes, every process must call it: all get process 0's.
        """
        if self._best_state is not None:
            self.vae.load_state_dict(self._best_state)
        elif self.run_dir is not None and self.run_dir.best.is_file():
            self.vae.load_state_dict(load_checkpoint(self.run_dir.best)["model"])
        self.processes.sync_module(self.vae)

    def _own_state(self) -> dict[str, Any]:
        """The random streams and estimator state of this process (each process has its own under DDP)."""
        noise = self.processes.noise.get_state()
        return {
            "torch_rng": torch.get_rng_state(),
            "device_rng": get_device_rng(self.device),
            "noise_rng": noise,
            "estimator": estimator_state(self.estimator),
        }

    def _gather_rank_states(self) -> None:
        """Every process's :meth:`_own_state`, for the checkpoint (a collective under DDP; nothing on one process)."""
        if self.processes.ranks.distributed:
            self._rank_states = self.processes.rank_states(self._own_state())

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly where it stopped."""
        return {
            **self._best_payload(),
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "critic_optimizer": None if self.critic_optimizer is None else self.critic_optimizer.state_dict(),
            # for reference only: load_state_dict rebuilds the schedule from the config (see the class notes)
            "scheduler": self.scheduler.state_dict(),
            "estimator": estimator_state(self.estimator),
            "stopper": self.stopper.state_dict(),
            "selected_by": self.selected_by,
            "divergence": self.divergence.state_dict(),
            "rollbacks": self.rollbacks,
            "lr_scale": self.lr_scale,
            "history": self.history,
            "train_seconds": self.train_seconds,
            "torch_rng": torch.get_rng_state(),
            "data_rng": self.data_rng.get_state(),
            "device_rng": get_device_rng(self.device),
            "grad_scaler": self.precision.state_dict(),
            # under DDP: every process's streams (and estimator state), in rank order
            **({"ranks": self._rank_states} if self._rank_states is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict`, under this trainer's config (which a resume may have changed).

        Keys of ``train`` a resume changed take effect: the optimizer's hyperparameters
        (``train.lr`` included) come from the config, a different ``train.optimizer``
        or ``train.estimator`` starts with fresh state, and the schedule is rebuilt
        (see the class notes). A run that had stopped early gets fresh patience.
        """
        saved = state["config"]["train"]
        own = self.processes.own(state.get("ranks")) or {}
        self.vae.load_state_dict(state["model"])
        self._load_optimizer(state["optimizer"], saved["optimizer"])
        self._load_critic_optimizer(state.get("critic_optimizer"), saved["optimizer"])
        if _name(saved["estimator"], "estimator") == _name(self.config.train.estimator, "estimator"):
            load_estimator_state(self.estimator, own.get("estimator", state.get("estimator", {})))
        self.stopper.load_state_dict(state["stopper"])
        self.selected_by = str(state.get("selected_by", self.selected_by))
        if self.stopper.should_stop:
            self.stopper.bad_epochs = 0
        self.divergence.load_state_dict(state.get("divergence", {}))
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.rollbacks = int(state.get("rollbacks", 0))
        # a new train.lr replaces the rate that divergence rollbacks had halved
        self.lr_scale = float(state.get("lr_scale", 1.0)) if saved["lr"] == self.config.train.lr else 1.0
        self.history = [dict(row) for row in state["history"]]
        self.train_seconds = float(state["train_seconds"])
        torch.set_rng_state(own.get("torch_rng", state["torch_rng"]))
        self.data_rng.set_state(state["data_rng"])
        set_device_rng(own.get("device_rng", state.get("device_rng", {})), self.device)
        if str(saved.get("precision", "32")) == self.precision.name:
            self.precision.load_state_dict(state.get("grad_scaler", {}))
        self._load_rank_streams(own, len(state.get("ranks") or [None]))
        self._schedule()

    def _load_rank_streams(self, own: dict[str, Any], saved_world: int) -> None:
        """The noise stream of this process as saved; fresh streams when the checkpoint has none for it."""
        world = self.processes.ranks.world
        if "noise_rng" in own:
            self.processes.noise.set_state(own["noise_rng"])
        elif world > 1:
            self.processes.seed_streams(self.step)
        if saved_world != world and self.log is not None:
            self.log(
                f"the checkpoint was written by {saved_world} process(es), this run has {world}: the global "
                "batch and the random streams differ from an uninterrupted run"
            )

    def _load_optimizer(self, state: dict[str, Any], saved_spec: Any) -> None:
        """The saved per-parameter state (moments, momentum) under the configured hyperparameters.

        A checkpoint of another optimizer leaves this one fresh: its state would not fit.
        """
        if _name(saved_spec, "optimizer") != _name(self.config.train.optimizer, "optimizer"):
            if self.log is not None:
                self.log(
                    f"train.optimizer changed from {_name(saved_spec, 'optimizer')!r} to "
                    f"{_name(self.config.train.optimizer, 'optimizer')!r}: its state starts afresh"
                )
            return
        _restore(self.optimizer, state)

    def _load_critic_optimizer(self, state: dict[str, Any] | None, saved_spec: Any) -> None:
        """The critic's saved optimizer state, under the same rule as :meth:`_load_optimizer`'s."""
        if self.critic_optimizer is None or state is None:
            return
        if _name(saved_spec, "optimizer") == _name(self.config.train.optimizer, "optimizer"):
            _restore(self.critic_optimizer, state)

    @property
    def best_val_elbo(self) -> float:
        """Validation ELBO of the selected epoch (``-inf`` before the first)."""
        best = self.stopper.best_epoch
        return self.history[best - 1]["val_elbo"] if 0 < best <= len(self.history) else -math.inf


def _advance(bar: tqdm, steps: int, losses: StepLosses) -> None:
    """Move the progress bar by the ``steps`` just read and show the running training bound."""
    if steps:
        bar.set_postfix(elbo=f"{-losses.total / max(losses.seen, 1):.3f}", refresh=False)
        bar.update(steps)


def _restore(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Load ``state``'s per-parameter state into ``optimizer``, keeping its own hyperparameters."""
    fresh = optimizer.state_dict()["param_groups"]
    groups = [{**now, "params": old["params"]} for now, old in zip(fresh, state["param_groups"], strict=True)]
    optimizer.load_state_dict({**state, "param_groups": groups})


def _name(spec: Any, kind: str) -> str:
    """The registered name a component spec (a name or a table) refers to."""
    return normalize_spec(spec, kind)["name"]
