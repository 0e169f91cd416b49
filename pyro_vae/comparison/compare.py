"""Compare ELBO estimators on the same model, data, initialisation and budget."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from pyro_vae._device import resolve_device
from pyro_vae.api import FitResult, fit
from pyro_vae.assemble import absolute_paths, initial_vae, prepare_data
from pyro_vae.comparison.report import write_comparison
from pyro_vae.comparison.results import Comparison, ComparisonRow, SNRPoint
from pyro_vae.comparison.snr import SNR_ESTIMATORS, GradientSNR, gradient_snr, snr_estimators_refused
from pyro_vae.config import RunConfig, config_to_dict, resolve_config, write_toml
from pyro_vae.config.combinations import check_estimator_applies
from pyro_vae.config.resolve import ConfigSource
from pyro_vae.data import DataBundle
from pyro_vae.errors import ConfigError
from pyro_vae.estimators import ESTIMATORS
from pyro_vae.programs import program_keywords
from pyro_vae.registry import ComponentSpec, normalize_spec
from pyro_vae.training import RunDir
from pyro_vae.training.distributed import one_process
from pyro_vae.vae import VAE

__all__ = ["compare", "estimator_label"]

Log = Callable[[str], None]


def estimator_label(spec: ComponentSpec) -> str:
    """A short readable name: ``trace``, ``iwae-K5``, ``renyi-K5-alpha0.5``."""
    spec = normalize_spec(spec, "estimator")
    parts = [spec["name"]]
    if "num_particles" in spec:
        parts.append(f"K{spec['num_particles']}")
    parts += [f"{k}{v}" for k, v in spec.items() if k not in ("name", "num_particles")]
    return "-".join(str(p) for p in parts)


def _snr_batch(vae: VAE, config: RunConfig, data: DataBundle, size: int) -> torch.Tensor:
    """A fixed training batch of ``size`` as the model kind draws them (examples, or groups for a group kind).

    Binarized once if the data is binarized dynamically; no labelled rows mixed in.
    """
    generator = torch.Generator().manual_seed(config.seed)
    sized = replace(config, train=replace(config.train, batch_size=size, labelled_per_batch=0))
    x, _ = next(iter(vae.training_batches(data.train, sized, generator, data.binarize == "dynamic")))
    return x


def _check_snr_options(repeats: int, batch: int) -> None:
    for name, value, least in (("snr_repeats", repeats, 2), ("snr_batch", batch, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{name} ({flag}) must be an integer of at least {least}, got {value!r}")


def _check(estimators: Sequence[ComponentSpec], particles: Iterable[int]) -> list[dict[str, Any]]:
    specs = [ESTIMATORS.check(spec) for spec in estimators]
    if not specs:
        raise ConfigError("compare needs at least one estimator, e.g. --estimators trace,iwae,dreg")
    labels = [estimator_label(spec) for spec in specs]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"estimators listed twice: {', '.join(labels)}")
    if any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in particles):
        raise ConfigError(f"SNR particle counts must be positive integers, got {list(particles)}")
    return specs


def compare(
    config: ConfigSource = None,
    estimators: Sequence[ComponentSpec] = (),
    *,
    out: str | os.PathLike[str] | None = None,
    overrides: Iterable[str] = (),
    snr_repeats: int = 100,
    snr_batch: int = 100,
    snr_particles: Sequence[int] = (1, 5, 10, 50),
    log: Log | None = None,
    progress: bool = False,
    pictures: bool = False,
    model: Any = None,
    guide: Any = None,
    **keywords: Any,
) -> Comparison:
    """Fit the same VAE with each estimator and compare them.

    Every estimator starts from the same initialisation (``seed``) on the same
    data and trains for the configured number of epochs (early stopping is
    turned off so the budgets match); each is evaluated on the test split with
    the same number of importance samples. The gradient SNR of each is
    measured on one fixed training batch at the start and at the end. Then, at
    the parameters the first estimator reached, the SNR of ``iwae`` and
    ``dreg`` is traced against the number of particles ``snr_particles``
    (skipped for models with binary latents, which those two cannot train).

    Parameters
    ----------
    config
        The run configuration (TOML file, dict or :class:`RunConfig`; ``None``: the defaults); its
        ``train.estimator`` is replaced by each of ``estimators``.
    estimators
        Names or specs, e.g. ``["trace", "meanfield", {"name": "iwae", "num_particles": 5}]``.
    out
        New directory for one run directory per estimator and the comparison
        files; ``None`` writes nothing.
    snr_repeats, snr_batch
        Gradient estimates per SNR measurement, and the batch size.
    pictures
        Write each run's pictures too.
    model, guide
        Your own Pyro programs (kind ``program``, see :mod:`pyro_vae.programs`): each estimator starts
        from the parameters they hold now; afterwards they hold the last estimator's (each run
        directory's ``best.pt`` keeps its own), and every result's ``vae`` is this one pair.
    """
    one_process("compare")  # every process would build the whole comparison in the same directory
    specs = _check(estimators, snr_particles)
    _check_snr_options(snr_repeats, snr_batch)
    programs, program_keys = program_keywords(model, guide)
    base = absolute_paths(resolve_config(config, overrides, patience=0, **program_keys, **keywords))
    for spec in specs:  # every estimator must suit the model before anything is written
        check_estimator_applies(replace(base, train=replace(base.train, estimator=spec)))
    device = resolve_device(base.train.device)  # refused before anything is written
    if out is not None:
        RunDir.check_new(out)
    data = prepare_data(base)
    first = initial_vae(base, data, programs)  # the model's own refusals (labels, prior) come before the directory
    for spec in specs if programs is not None else ():  # and what the user's programs cannot be trained with
        programs.build(replace(base, train=replace(base.train, estimator=spec)), data.event_shape)
    root = _new_directory(out)
    batch = _snr_batch(first, base, data, snr_batch)
    start_state = copy.deepcopy(first.state_dict())  # the user's programs are trained in place: each restarts here
    rows, histories, results, reference_state = [], {}, {}, None
    for spec in specs:
        label = estimator_label(spec)
        run_config = replace(base, train=replace(base.train, estimator=spec))
        first.load_state_dict(start_state)
        start = gradient_snr(initial_vae(run_config, data, programs).to(device), spec, batch, snr_repeats, base.seed)
        if log is not None:
            log(f"== {label}")
        own = {} if programs is None else {"model": programs.model, "guide": programs.guide}
        where = None if root is None else root / label
        result = fit(run_config, out=where, log=log, progress=progress, pictures=pictures, **own)
        end = gradient_snr(result.vae, spec, batch, snr_repeats, base.seed)
        rows.append(_row(label, result, start, end))
        histories[label], results[label] = result.history, result
        reference_state = reference_state or copy.deepcopy(result.vae.state_dict())
    reference = estimator_label(specs[0])
    results[reference].vae.load_state_dict(reference_state)  # the user's programs hold the last fit's otherwise
    points = _snr_vs_k(results[reference], batch, snr_particles, snr_repeats, base.seed)
    comparison = Comparison(rows, points, histories, reference, root, results)
    if root is not None:
        write_toml(config_to_dict(base), root / "config.toml")
        write_comparison(comparison, root)
    return comparison


def _new_directory(out: str | os.PathLike[str] | None) -> Path | None:
    if out is None:
        return None
    RunDir.check_new(out)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    return root


def _row(label: str, result: FitResult, start: GradientSNR, end: GradientSNR) -> ComparisonRow:
    s = result.summary
    return ComparisonRow(
        estimator=label,
        test_elbo=s["test_elbo"],
        test_log_likelihood=s["test_log_likelihood"],
        log_likelihood_samples=s["log_likelihood_samples"],
        seconds_per_epoch=s["seconds_per_epoch"],
        epochs=s["epochs"],
        best_epoch=s["best_epoch"],
        snr_encoder_start=start.encoder,
        snr_decoder_start=start.decoder,
        snr_encoder_end=end.encoder,
        snr_decoder_end=end.decoder,
    )


def _snr_vs_k(
    reference: FitResult, batch: torch.Tensor, particles: Sequence[int], repeats: int, seed: int
) -> list[SNRPoint]:
    """SNR of ``iwae`` and ``dreg`` against K at the reference parameters, skipping each that cannot train the model.

    Binary codes and the semi-supervised kind are beyond them; the report says why (``snr_estimators_refused``).
    """
    points = []
    refused = snr_estimators_refused(reference.config.model)
    for name in (name for name in SNR_ESTIMATORS if name not in refused):
        for k in particles:
            snr = gradient_snr(reference.vae, {"name": name, "num_particles": k}, batch, repeats, seed)
            points.append(SNRPoint(name, k, snr.encoder, snr.decoder))
    return points
