"""A fitted VAE's posterior draws, log-likelihood and training history as ArviZ ``InferenceData``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr
from torch import Tensor

from pyro_vae._pyro import local_params
from pyro_vae.diagnostics._arviz import arviz
from pyro_vae.estimators import draw_particles, latent_and_observed_sites

if TYPE_CHECKING:
    from pyro_vae.vae import VAE

__all__ = ["to_inference_data"]


def _draws(values: Tensor, dims: tuple[str, ...]) -> xr.DataArray:
    """``(draw, example, ...)`` values as a DataArray with a single chain in front."""
    array = values.detach().double().cpu().numpy()[None]
    extra = tuple(f"{dims[-1]}_{i}" for i in range(array.ndim - 2 - len(dims)))
    return xr.DataArray(array, dims=("chain", "draw", *dims, *extra))


def _latent_dims(name: str, event_dims: int) -> tuple[str, ...]:
    """Dimension names of a latent site's draws after ``(chain, draw)``: ``example``, then its own components.

    Each site names its components after itself (``latent`` for ``z``, ``bits_latent`` for ``bits``), so
    sites of different sizes (a mixed model's ``z`` and ``bits``) never share a dimension; a scalar site
    (a label) has none.
    """
    if event_dims == 0:
        return ("example",)
    return ("example", "latent" if name == "z" else f"{name}_latent")


def _sites(vae: VAE, x: Tensor, draws: int) -> tuple[dict, dict, Tensor]:
    """Latent draws from the guide, observed-site log-likelihoods and log-weights for ``draws`` particles."""
    with torch.no_grad(), local_params():
        particles = draw_particles(*vae.scoring_programs(), (x,), {}, draws)
    posterior = {
        site["name"]: _draws(site["value"], _latent_dims(site["name"], site["value"].dim() - 2))
        for site in latent_and_observed_sites(particles.guide_trace)
    }
    log_lik = {
        site["name"]: _draws(site["fn"].log_prob(site["value"]).expand(particles.shape), ("example",))
        for site in latent_and_observed_sites(particles.model_trace)
        if site["is_observed"]
    }
    return posterior, log_lik, particles.log_w


def to_inference_data(
    vae: VAE,
    x: Tensor,
    draws: int,
    history: list[dict[str, float]],
    khat: np.ndarray | None = None,
    indices: list[int] | None = None,
) -> arviz.InferenceData:
    """Build ``InferenceData`` for the examples ``x``.

    Groups: ``posterior`` (each guide latent site, ``draws`` draws per
    example), ``log_likelihood`` (``log p(x_n | z_s)`` per observed site and
    draw), ``sample_stats`` (``log_weight = log p(x, z) - log q(z | x)``),
    ``observed_data`` (``x``, flattened), ``training_history`` (the per-epoch
    metrics) and, if given, ``psis`` (k-hat of every test point). ``indices``
    label the examples (their positions in the test split).
    """
    posterior, log_lik, log_w = _sites(vae, x, draws)
    groups = {
        "posterior": xr.Dataset(posterior),
        "log_likelihood": xr.Dataset(log_lik),
        "sample_stats": xr.Dataset({"log_weight": _draws(log_w, ("example",))}),
        "observed_data": xr.Dataset({"x": (("example", "feature"), x.flatten(1).double().cpu().numpy())}),
    }
    if history:
        columns = {key: ("epoch", [row[key] for row in history]) for key in history[0] if key != "epoch"}
        groups["training_history"] = xr.Dataset(columns, coords={"epoch": [int(r["epoch"]) for r in history]})
    if khat is not None:
        groups["psis"] = xr.Dataset({"khat": ("test_example", khat)})
    example = {"example": indices if indices is not None else list(range(x.shape[0]))}
    for name in ("posterior", "log_likelihood", "sample_stats", "observed_data"):
        groups[name] = groups[name].assign_coords(example)
    return arviz.InferenceData(**groups)
