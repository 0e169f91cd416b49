"""The Python entry points behind every CLI command: fit, resume, evaluate, sample, load."""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

from pyro_vae._device import resolve_device
from pyro_vae._files import atomic_write, os_error
from pyro_vae._ranks import Ranks, broadcast
from pyro_vae.assemble import (
    absolute_paths,
    build_checked,
    data_keywords,
    initial_vae,
    load_best,
    load_run_data,
    prepare_data,
    vae_from_best,
)
from pyro_vae.config import (
    RunConfig,
    apply_override,
    config_from_dict,
    config_to_dict,
    read_toml,
    resolve_config,
    write_toml,
)
from pyro_vae.config.overrides import in_layer_order, parse_assignment
from pyro_vae.config.resolve import ConfigSource
from pyro_vae.config.schema import EvalConfig, TrainConfig
from pyro_vae.config.validate import SEED_LIMIT
from pyro_vae.data import DataBundle
from pyro_vae.diagnostics import MIN_PSIS_DRAWS
from pyro_vae.errors import ConfigError, PyroVAEError
from pyro_vae.evaluation import SplitEvaluation, evaluate_split
from pyro_vae.networks import using_network
from pyro_vae.plots import save_image_grid
from pyro_vae.programs import Programs, program_keywords
from pyro_vae.summary import make_summary, read_summary
from pyro_vae.training import (
    TRAINING_KEYS,
    EarlyStopping,
    RunDir,
    Trainer,
    check_parameters,
    read_metrics,
    save_checkpoint,
    write_json,
)
from pyro_vae.training.distributed import agreed, joined, lost_contact, on_main
from pyro_vae.vae import VAE

__all__ = ["FitResult", "diagnose", "evaluate", "fit", "load_run", "resume", "sample"]

Log = Callable[[str], None]
F = TypeVar("F", bound=Callable[..., Any])


def _takes_network(configures: bool) -> Callable[[F], F]:
    """Let ``func`` take ``network=``: your own encoder/decoder object or factory, active while it runs.

    ``configures``: ``func`` takes configuration keywords (``fit``), so the network's spec (or a
    registered name or table, passed through) goes in as ``network``; the others read the run's.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, network: Any = None, **kwargs: Any) -> Any:
            if isinstance(network, (str, Mapping)):
                if not configures:
                    raise ConfigError(
                        f"network= of a saved run is fixed by it; pass your own network object, not {network!r}"
                    )
                return func(*args, network=network, **kwargs)
            with using_network(network) as spec:
                return func(*args, **kwargs, **({"network": spec} if configures and spec else {}))

        return wrapper  # type: ignore[return-value]

    return decorate


#: sections a resumed run may change; the seed, the data and the model are fixed by the checkpoint
RESUMABLE_SECTIONS = {"train": TrainConfig, "eval": EvalConfig}
#: every key ``resume(..., overrides=...)`` accepts
RESUMABLE_KEYS = tuple(f"{name}.{f.name}" for name, cls in RESUMABLE_SECTIONS.items() for f in dataclasses.fields(cls))


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    vae
        The fitted model and guide, with the parameters of the best validation epoch.
    config
        The resolved configuration.
    data
        The prepared splits.
    history
        One dict per epoch (the rows of ``metrics.csv``).
    summary
        The figures written to ``summary.json``.
    run_dir
        The run directory, or ``None`` for an in-memory fit.
    """

    vae: VAE
    config: RunConfig
    data: DataBundle
    history: list[dict[str, float]]
    summary: dict[str, Any]
    run_dir: Path | None


def _finish(
    trainer: Trainer, config: RunConfig, data: DataBundle, run: RunDir | None, log: Log | None, pictures: bool
) -> FitResult:
    """Test figures (shared out among the processes of a DDP run), then process 0 alone: summary and pictures."""
    trainer.restore_best()
    data = trainer.data  # on the run's device
    ev = config.eval
    test = evaluate_split(
        trainer.vae, data.test, ev.samples, ev.batch_size, ev.seed, psis=True, workers=ev.workers, across_ranks=True
    )
    summary = make_summary(config, data, test, trainer)
    if not trainer.processes.ranks.is_main:  # the kind's own figures, pictures and files are process 0's
        return FitResult(trainer.vae, config, data, trainer.history, summary, None)
    summary |= trainer.vae.extra_metrics(data)
    if log is not None:
        log(
            f"test elbo {test.elbo:.3f}  test log-likelihood {test.log_likelihood:.3f} "
            f"(importance sampling, K={test.samples}), nats per example"
        )
    if run is not None:
        if pictures:
            for path in trainer.vae.write_pictures(data, trainer.history, run.root):
                if log is not None:
                    log(f"wrote {path}")
        write_json(summary, run.summary)  # last: a run with summary.json is complete
    return FitResult(trainer.vae, config, data, trainer.history, summary, run.root if run else None)


@_takes_network(configures=True)
def fit(
    config: ConfigSource = None,
    *,
    data: Any = None,
    labels: Any = None,
    val_data: Any = None,
    test_data: Any = None,
    out: str | os.PathLike[str] | None = None,
    overrides: Iterable[str] = (),
    log: Log | None = None,
    progress: bool = False,
    pictures: bool = True,
    model: Any = None,
    guide: Any = None,
    **keywords: Any,
) -> FitResult:
    """Fit a VAE and evaluate it on the test split.

    Parameters
    ----------
    config
        A TOML file, dict or :class:`RunConfig` (``None``: the defaults, digits).
    data
        Your own examples: a NumPy array or torch tensor ``(N, D)``,
        ``(N, H, W)`` or ``(N, C, H, W)``; a map-style ``torch.utils.data.Dataset`` whose items
        are an example, an ``(x, label)`` tuple or a dict with ``x`` (and ``label``), read into
        memory; a ``DataLoader`` or ``IterableDataset``, streamed each epoch (needs ``val_data``
        and ``test_data``); or a path to a ``.npy``/``.npz``/``.csv`` file or an image folder.
    labels
        Integer labels for an array or tensor ``data`` (``-1``: missing), optional; datasets give their own.
    val_data, test_data
        Held-out examples, in any of the Python forms of ``data`` (read into memory), for a
        Python ``data``: each replaces the split ``data.val_fraction`` / ``data.test_fraction``
        would have carved.
    out
        Run directory to create: missing, empty, or the leftover of a run killed before its first
        epoch was saved (replaced). It is locked while the fit runs; ``None`` writes nothing.
    overrides
        ``"key=value"`` strings, as ``--set`` on the command line.
    log
        Called with progress lines (e.g. ``print``); ``None`` is silent.
    progress
        Show a progress bar over each epoch.
    pictures
        Write the PNG pictures into ``out``.
    model, guide
        Your own Pyro programs (kind ``program``; the contract is in :mod:`pyro_vae.programs`),
        trained and scored by pyro-vae; a dict ``model=`` is the ``[model]`` section as usual.
    **keywords
        Configuration keys by field name (``prior="mixture"``, ``epochs=5``, ``device="cuda"``,
        ``precision="bf16"``), whole sections (``train={"lr": 1e-3}``) or dotted keys. ``network`` may also
        be your own encoder and decoder: an object with ``encoder`` and ``decoder`` ``nn.Module`` s, or a factory
        ``f(event_shape, z_dim, params_per_dim, encoder_out)`` returning one (shapes checked before
        training; see :mod:`pyro_vae.networks.custom`); the run then needs it again to resume or load.

    Returns
    -------
    FitResult
        Its VAE and data on ``train.device``.

    Notes
    -----
    Started by torchrun (``WORLD_SIZE`` above 1), every process calls this with the same
    arguments and they train together with DistributedDataParallel (``train.batch_size``
    per process); process 0 alone logs, writes ``out`` and returns the full summary.
    """
    programs, program_keys = program_keywords(model, guide)
    sources = data_keywords(data, val_data, test_data)
    config = absolute_paths(resolve_config(config, overrides, **{**sources, **program_keys, **keywords}))
    device = resolve_device(config.train.device)  # an unavailable device is refused before anything is written
    with joined(config.train.ddp_timeout, device) as ranks:
        if not ranks.is_main:
            log, progress = None, False
        with agreed(ranks, "before training"):
            if out is not None and ranks.is_main:
                RunDir.check_new(out)
            prepared = prepare_data(config, data, labels, val_data, test_data)
            vae = initial_vae(config, prepared, programs)
        with _claim_new(out, ranks, log) as run:
            if run is not None:
                write_toml(config_to_dict(config), run.config)
            trainer = Trainer(vae, config, prepared, run, log=log, progress=progress)
            with lost_contact(ranks, config.train.ddp_timeout, _resume_hint(out)):
                trainer.fit()
                return _finish(trainer, config, trainer.data, run, log, pictures)


def _claim_new(out: str | os.PathLike[str] | None, ranks: Ranks, log: Log | None) -> AbstractContextManager:
    """The new run directory ``out``, claimed by process 0 alone; ``None`` in the others, or without ``out``."""
    if out is None:
        return nullcontext()
    return on_main(ranks, lambda: RunDir.claim_new(out, log), "before training")


def _resume_hint(run_dir: str | os.PathLike[str] | None) -> str:
    """What a run that lost a process keeps, and how to go on."""
    if run_dir is None:
        return ""
    return f"; {str(run_dir)!r} keeps the checkpoint of its last finished epoch: continue with --resume {run_dir}"


def _resumed_config(saved: dict[str, Any], overrides: Iterable[str]) -> RunConfig:
    """The saved config with ``overrides`` applied, fields before their options.

    A key outside :data:`RESUMABLE_KEYS` is refused.
    """
    values = copy.deepcopy(saved)
    for key, value in in_layer_order(parse_assignment(text) for text in overrides):
        if ".".join(key.split(".")[:2]) not in RESUMABLE_KEYS:
            raise ConfigError(
                f"cannot change {key!r} when resuming: the seed, data.* and model.* are fixed by the checkpoint; "
                f"keys that may change: {', '.join(RESUMABLE_KEYS)}; start a new run to change {key!r}"
            )
        apply_override(values, key, value)
    return resolve_config(config_from_dict(values))


@_takes_network(configures=False)
def resume(
    run_dir: str | os.PathLike[str],
    *,
    overrides: Iterable[str] = (),
    data: Any = None,
    labels: Any = None,
    val_data: Any = None,
    test_data: Any = None,
    log: Log | None = None,
    progress: bool = False,
    pictures: bool = True,
    model: Any = None,
    guide: Any = None,
    device: str | None = None,
) -> FitResult:
    """Continue training the run in ``run_dir`` from its last completed epoch.

    ``overrides`` may change any ``train.*`` and ``eval.*`` key (:data:`RESUMABLE_KEYS`), e.g.
    ``["train.epochs=40"]`` to train longer, and each takes effect: ``train.lr`` replaces
    the rate saved with the optimizer, another ``train.optimizer`` (or ``train.estimator``)
    starts with fresh state, the schedule follows the new ``train.epochs`` (a cosine's
    horizon). Any other key is refused before anything is written. Runs fitted on an
    in-memory array, a torch dataset or a stream need the same ``data`` (and ``labels``,
    ``val_data``, ``test_data``) again; datasets and streams are checked against the
    ``data.origin`` the run recorded. A run fitted with your own network needs it again: ``network=``
    (as for every function that opens a run: :func:`load_run`, :func:`evaluate`, :func:`sample`, ...).
    A run whose training ended (all epochs, or stopped early) but which has no ``summary.json`` (stopped
    during the final evaluation or pictures) is completed without training further.
    The checkpoint must belong to the run (its fingerprint, ``best.pt`` and
    ``config.toml`` agree; see :meth:`RunDir.load`). A run of your own Pyro programs
    needs the same ``model`` and ``guide`` again. ``device`` (``train.device``) may differ
    from the one the run trained on: checkpoints load on any device.

    Under torchrun every process calls this: process 0 reads and checks the run, and hands
    the checkpoint to the others (each continues its own random streams when the run was
    saved by as many processes).
    """
    overrides = list(overrides) + ([] if device is None else [f"train.device={json.dumps(device)}"])
    programs = _programs(model, guide)
    timeout, device_used = _resume_settings(run_dir, overrides)
    with joined(timeout, device_used) as ranks:
        if not ranks.is_main:
            log, progress = None, False
        with on_main(ranks, lambda: RunDir.claim(run_dir), "before resuming") as run:
            passed = (data, labels, val_data, test_data)
            trainer, state = _resumed_trainer(run, Path(run_dir), overrides, ranks, passed, programs, (log, progress))
            with lost_contact(ranks, trainer.config.train.ddp_timeout, _resume_hint(run_dir)):
                return _continue(trainer, state, run, log, pictures)


def _resumed_trainer(
    run: RunDir | None,
    root: Path,
    overrides: list[str],
    ranks: Ranks,
    data: tuple[Any, Any, Any, Any],
    programs: Programs | None,
    output: tuple[Log | None, bool],
) -> tuple[Trainer, dict[str, Any]]:
    """The trainer where the run stopped, and its checkpoint: process 0 reads and checks it, every process builds.

    ``data`` is ``(data, labels, val_data, test_data)`` as passed; ``output`` the log and progress bar.
    """
    with agreed(ranks, "before resuming"):
        state, config = _resumable(run, overrides) if run is not None else (None, None)
    state, config = _shared_state(state, config, ranks)
    with agreed(ranks, "before resuming"):
        prepared = load_run_data(config, state, *data)
        vae = build_checked(config, prepared, programs)
        check_parameters(vae, state["model"], root / "checkpoint.pt")
    trainer = Trainer(vae, config, prepared, run, log=output[0], progress=output[1])
    trainer.load_state_dict(state)
    return trainer, state


def _continue(
    trainer: Trainer, state: dict[str, Any], run: RunDir | None, log: Log | None, pictures: bool
) -> FitResult:
    """Train on from the checkpoint (or only finish a run whose training had ended), then evaluate."""
    unfinished = run is not None and not run.summary.is_file()
    if _training_finished(state, trainer.config) and broadcast(unfinished, trainer.processes.ranks):
        return _complete(trainer, state, run, log, pictures)
    if run is not None:
        write_toml(config_to_dict(trainer.config), run.config)
        if log is not None:
            log(f"resuming {run.root} at epoch {trainer.epoch + 1} of {trainer.config.train.epochs}")
    _train_on(trainer, state, run)
    return _finish(trainer, trainer.config, trainer.data, run, log, pictures)


def _resume_settings(run_dir: str | os.PathLike[str], overrides: list[str]) -> tuple[float, torch.device | None]:
    """``train.ddp_timeout`` and the device as the resumed run will have them, read before the processes meet.

    ``--set train.ddp_timeout`` (``--device``), else the run's ``config.toml``, else the defaults: the
    checks of the run come later, from process 0 (other machines may not see the file).
    """
    train = _saved_train(run_dir, overrides)
    return (TrainConfig().ddp_timeout, None) if train is None else (train.ddp_timeout, resolve_device(train.device))


def _saved_train(run_dir: str | os.PathLike[str], overrides: list[str]) -> TrainConfig | None:
    """The ``[train]`` section of the run's ``config.toml`` with ``overrides``; ``None`` if it cannot be read."""
    try:
        return _resumed_config(read_toml(Path(run_dir) / "config.toml"), overrides).train
    except (PyroVAEError, OSError, ValueError):
        return None


def _shared_state(
    state: dict[str, Any] | None, config: RunConfig | None, ranks: Ranks
) -> tuple[dict[str, Any], RunConfig]:
    """Process 0's checkpoint and resumed config, in every process."""
    if not ranks.distributed:
        return state, config
    state, values = broadcast((state, None if config is None else config_to_dict(config)), ranks)
    return state, resolve_config(config_from_dict(values))


def _train_on(trainer: Trainer, state: dict[str, Any], run: RunDir | None) -> None:
    """Train a resumed run; if it fails before an epoch finishes, ``config.toml`` goes back to the checkpoint's."""
    try:
        trainer.fit()
    except BaseException:
        if trainer.epoch == state["epoch"] and run is not None:
            write_toml(state["config"], run.config)
        raise


def _resumable(run: RunDir, overrides: list[str]) -> tuple[dict[str, Any], RunConfig]:
    """The checked training state of ``run`` and the config it resumes with; a complete run is refused."""
    state = run.load(run.checkpoint, TRAINING_KEYS, resumed=[parse_assignment(text)[0] for text in overrides])
    config = _resumed_config(state["config"], overrides)
    resolve_device(config.train.device)  # a run trained elsewhere says which devices this machine has
    if state["epoch"] >= config.train.epochs and run.summary.is_file():
        raise ConfigError(
            f"{str(run.root)!r} already trained {state['epoch']} of {config.train.epochs} epochs and its "
            f"summary is written: raise train.epochs to continue (e.g. --set train.epochs={state['epoch'] + 10})"
        )
    return state, config


def _training_finished(state: dict[str, Any], config: RunConfig) -> bool:
    """Whether the saved run had trained all its epochs or stopped early."""
    stopper = EarlyStopping(config.train.patience)
    stopper.load_state_dict(state["stopper"])
    return state["epoch"] >= config.train.epochs or stopper.should_stop


def _complete(
    trainer: Trainer, state: dict[str, Any], run: RunDir | None, log: Log | None, pictures: bool
) -> FitResult:
    """Finish a run whose training ended but whose final evaluation, pictures or summary are missing."""
    trainer.stopper.load_state_dict(state["stopper"])  # as it stopped, not with the fresh patience of a resume
    if run is not None and config_to_dict(trainer.config) != state["config"]:
        fields = {k: v for k, v in state.items() if k not in ("format", "fingerprint")}
        save_checkpoint({**fields, "config": config_to_dict(trainer.config)}, run.checkpoint)
        write_toml(config_to_dict(trainer.config), run.config)
    if log is not None and run is not None:
        log(f"training of {run.root} had ended after epoch {trainer.epoch}: writing its evaluation and summary")
    return _finish(trainer, trainer.config, trainer.data, run, log, pictures)


@_takes_network(configures=False)
def load_run(
    run_dir: str | os.PathLike[str], device: str = "auto", *, model: Any = None, guide: Any = None
) -> tuple[VAE, RunConfig]:
    """The fitted VAE (best validation epoch) of a run directory, on ``device``, and its configuration.

    ``device`` is where the VAE goes (``"auto"``: CUDA when available, else the CPU),
    whatever device the run was trained on. A run of your own Pyro programs needs the same
    ``model`` and ``guide`` (their parameters are loaded into them).
    """
    target = resolve_device(device, "device")
    vae, config, _ = load_best(RunDir.open(run_dir, need_best=True), _programs(model, guide))
    return vae.to(target), config


def _programs(model: Any, guide: Any) -> Programs | None:
    """The user's programs handed to resume, load_run or evaluate (no ``[model]`` section there)."""
    if isinstance(model, Mapping):
        raise ConfigError("model= is your own Pyro model here: a run's [model] section cannot change")
    return program_keywords(model, guide)[0]


@dataclass
class _Evaluated:
    """A run evaluated on its test split; ``run`` is ``None`` in the processes other than 0 (under torchrun)."""

    run: RunDir | None
    vae: VAE
    data: DataBundle
    test: SplitEvaluation
    summary: dict[str, Any]


@contextmanager
def _evaluated_run(
    run_dir: str | os.PathLike[str],
    samples: int | None,
    passed: tuple[Any, Any, Any, Any],
    log: Log | None,
    check: Callable[[RunConfig, DataBundle], None] | None = None,
    programs: Programs | None = None,
    device: str = "auto",
) -> Iterator[_Evaluated]:
    """Evaluate the best checkpoint on the test split (with PSIS) on ``device`` and rewrite ``summary.json``.

    The block runs while process 0 still holds the run directory (to write more into it). ``check(config,
    data)`` vets the caller's own options against the loaded run before anything is evaluated or written.
    ``passed`` is ``(data, labels, val_data, test_data)`` of a run fitted on Python objects. Started by torchrun
    (``WORLD_SIZE`` above 1), every process calls this: process 0 claims and reads the run and hands its
    checkpoint to the others, each scores its share of the test batches (the figures are added up over
    all), and process 0 alone writes; every process gets its summary.
    """
    target = resolve_device(device, "device")  # refused before the processes meet; picks their backend
    saved = _saved_train(run_dir, [])  # its train.device may be one this machine lacks: only the timeout is read
    timeout = (saved or TrainConfig()).ddp_timeout
    with joined(timeout, target) as ranks:
        target = resolve_device(device, "device")  # again: under torchrun "cuda" is now this process's GPU
        log = log if ranks.is_main else None
        with on_main(ranks, lambda: RunDir.claim(run_dir, need_best=True), "before evaluating") as run:
            vae, config, state = _best_in_every_process(run, Path(run_dir), programs, ranks)
            with agreed(ranks, "before evaluating"):
                if samples is not None:
                    config = resolve_config(config, [f"eval.samples={samples}"])
                prepared = load_run_data(config, state, *passed)
                vae.check_data(prepared)
                if check is not None:
                    check(config, prepared)
            vae, prepared = vae.to(target), prepared.to(target)
            with lost_contact(ranks, timeout):
                test = _test_figures(vae, prepared, config.eval)
                summary = _write_summary(run, config, prepared, test, vae, ranks)
            if log is not None:
                log(f"test elbo {test.elbo:.3f}  test log-likelihood {test.log_likelihood:.3f} (K={test.samples})")
            yield _Evaluated(run, vae, prepared, test, summary)


def _best_in_every_process(
    run: RunDir | None, root: Path, programs: Programs | None, ranks: Ranks
) -> tuple[VAE, RunConfig, dict[str, Any]]:
    """The VAE of the run's best epoch, its config and checkpoint: process 0 reads and checks, the others build."""
    with agreed(ranks, "before evaluating"):
        loaded = load_best(run, programs) if run is not None else None
    if not ranks.distributed:
        assert loaded is not None
        return loaded
    state = broadcast(None if loaded is None else loaded[2], ranks)
    with agreed(ranks, "before evaluating"):
        if loaded is None:
            loaded = (*vae_from_best(state, root / "best.pt", programs), state)
    return loaded


def _test_figures(vae: VAE, prepared: DataBundle, ev: EvalConfig) -> SplitEvaluation:
    """The test split's ELBO, log-likelihood and PSIS, shared by the processes of a torchrun (sharded batches)."""
    return evaluate_split(
        vae, prepared.test, ev.samples, ev.batch_size, ev.seed, psis=True, workers=ev.workers, across_ranks=True
    )


def _write_summary(
    run: RunDir | None, config: RunConfig, prepared: DataBundle, test: SplitEvaluation, vae: VAE, ranks: Ranks
) -> dict[str, Any]:
    """Rewrite ``summary.json`` with the test figures (process 0, the one given ``run``); its content everywhere."""
    summary = None
    with agreed(ranks, "while writing summary.json"):
        if run is not None:
            summary = make_summary(config, prepared, test, previous=read_summary(run.summary))
            summary |= vae.extra_metrics(prepared)
            write_json(summary, run.summary)
    return broadcast(summary, ranks)


@_takes_network(configures=False)
def evaluate(
    run_dir: str | os.PathLike[str],
    *,
    samples: int | None = None,
    data: Any = None,
    labels: Any = None,
    val_data: Any = None,
    test_data: Any = None,
    log: Log | None = None,
    model: Any = None,
    guide: Any = None,
    device: str = "auto",
) -> dict[str, Any]:
    """Re-evaluate a run on its test split and rewrite its ``summary.json``.

    Parameters
    ----------
    run_dir
        A run directory written by :func:`fit`.
    samples
        ``K`` for the importance-sampled log-likelihood and PSIS (default: the run's ``eval.samples``).
    data, labels, val_data, test_data
        The Python objects again, for runs fitted on them (see :func:`fit`).
    model, guide
        Your own Pyro programs again, for runs of kind ``program``.
    device
        Where to evaluate (``"auto"``: CUDA when available, else the CPU), whatever the run trained on.

    Notes
    -----
    Started by torchrun (``WORLD_SIZE`` above 1), every process calls this: they share out the test
    batches (``eval.workers`` then applies to none), process 0 alone writes, and each returns the summary.
    :func:`diagnose` does the same.
    """
    passed = (data, labels, val_data, test_data)
    with _evaluated_run(run_dir, samples, passed, log, programs=_programs(model, guide), device=device) as done:
        return done.summary


@_takes_network(configures=False)
def diagnose(
    run_dir: str | os.PathLike[str],
    *,
    points: int | Sequence[int] = 100,
    draws: int = 1000,
    samples: int | None = None,
    data: Any = None,
    labels: Any = None,
    val_data: Any = None,
    test_data: Any = None,
    log: Log | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """ArviZ diagnostics of a run's guide; rewrites ``summary.json``, writes ``diagnostics.nc`` and ``psis_khat.png``.

    PSIS k-hat of the importance weights ``p(x, z) / q(z | x)`` for every test
    point (``samples`` draws each) goes into the summary
    (``psis_khat_mean``, ``psis_khat_frac_above_0.7``) and a histogram; the
    ``InferenceData`` holds ``draws`` posterior draws of the latents for the
    chosen test examples (``points``: how many from the start of the test
    split, or their indices), their log-likelihoods and log-weights, the
    training history and every test point's k-hat. It computes on ``device`` (as :func:`evaluate`).
    """
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ConfigError(f"draws must be a positive integer, got {draws!r}")
    return _diagnose(run_dir, points, draws, samples, (data, labels, val_data, test_data), log, device)


def _diagnose(
    run_dir: str | os.PathLike[str],
    points: int | Sequence[int],
    draws: int,
    samples: int | None,
    passed: tuple[Any, Any, Any, Any],
    log: Log | None,
    device: str = "auto",
) -> dict[str, Any]:
    """:func:`diagnose`; ``passed``: ``(data, labels, val_data, test_data)``. Process 0 writes the files."""

    def check(config: RunConfig, prepared: DataBundle) -> None:  # before summary.json is rewritten
        _chosen_points(points, len(prepared.test))
        if config.eval.samples < MIN_PSIS_DRAWS:
            raise ConfigError(
                f"PSIS needs at least {MIN_PSIS_DRAWS} importance samples per test point, got "
                f"{config.eval.samples} (--samples, else the run's eval.samples): pass --samples "
                f"{MIN_PSIS_DRAWS} or more"
            )

    with _evaluated_run(run_dir, samples, passed, log, check, device=device) as done:
        if done.run is not None:  # process 0 (of a torchrun) alone draws the exported posteriors and writes
            _write_diagnostics(done, points, draws, log)
        return done.summary


def _write_diagnostics(done: _Evaluated, points: int | Sequence[int], draws: int, log: Log | None) -> None:
    """``diagnostics.nc`` (ArviZ ``InferenceData``) and ``psis_khat.png`` of an evaluated run."""
    from pyro_vae.diagnostics.inference_data import to_inference_data
    from pyro_vae.plots.diagnostics import save_khat_histogram

    assert done.run is not None
    chosen = _chosen_points(points, len(done.data.test))
    history = read_metrics(done.run.metrics)
    idata = to_inference_data(done.vae, done.data.test.x[chosen], draws, history, done.test.khat, chosen)
    # atomic, and a reader holding the old file keeps it
    atomic_write(done.run.root / "diagnostics.nc", lambda tmp: idata.to_netcdf(str(tmp)))
    save_khat_histogram(done.test.khat, done.run.root / "psis_khat.png")
    if log is not None:
        s = done.summary
        mean = "none finite" if s["psis_khat_mean"] is None else f"{s['psis_khat_mean']:.3f}"
        log(f"PSIS k-hat: mean {mean}, share above 0.7: {s['psis_khat_frac_above_0.7']:.3f}")
        log(f"wrote {done.run.root / 'diagnostics.nc'} and {done.run.root / 'psis_khat.png'}")


def _chosen_points(points: int | Sequence[int], n_test: int) -> list[int]:
    """Test indices to export: the first ``points``, or the given indices (checked against the test size)."""
    if isinstance(points, int) and not isinstance(points, bool):
        if points < 1:
            raise ConfigError(f"points must be a positive integer or a list of test indices, got {points!r}")
        return list(range(min(points, n_test)))
    chosen = list(points)
    bad = [i for i in chosen if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n_test]
    if not chosen or bad:
        raise ConfigError(f"test indices must be integers in [0, {n_test - 1}]; got {bad or chosen!r}")
    return chosen


@_takes_network(configures=False)
def sample(
    run_dir: str | os.PathLike[str],
    n: int,
    out: str | os.PathLike[str] | None = None,
    seed: int = 0,
    device: str = "auto",
) -> torch.Tensor:
    """Draw ``n`` examples ``E[x | z]``, ``z ~ p(z)``, from a run on ``device``; optionally save them as a PNG grid.

    The draws depend on the device's random number generator: the same ``seed`` gives the
    same samples on the same kind of device.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"the number of samples must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"the seed must be an integer in [0, 2**32), got {seed!r}")
    if out is not None and Path(out).suffix.lower() != ".png":
        raise ConfigError(f"--out {str(out)!r} must be a .png file")
    vae, _ = load_run(run_dir, device)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        x = vae.sample(n)
    if out is not None:
        out = Path(out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise os_error("create the folder", out.parent, err) from err
        lo, hi = float(x.min()), float(x.max())
        save_image_grid(x, out, f"{n} samples from {Path(run_dir).name}", (min(lo, 0.0), max(hi, 1.0)))
    return x
