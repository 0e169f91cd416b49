"""Shared machinery of the per-example multi-sample estimators (IWAE, Renyi, STL, DReG, tail-adaptive).

All of them draw ``K`` particles ``z_k ~ q(z | x)`` for every example in one
vectorised pass (a ``particles`` plate left of the model's plates) and work
with the per-example log-weights ``log w[k, n] = log p(x_n, z_kn) - log q(z_kn | x_n)``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyro
import torch
from pyro import poutine
from pyro.distributions.util import scale_and_mask
from pyro.infer import ELBO
from pyro.poutine import Trace
from pyro.poutine.util import site_is_subsample
from torch import Tensor
from torch.distributions import Distribution

from pyro_vae.errors import ConfigError

__all__ = [
    "ParticleELBO",
    "Particles",
    "check_reparameterized",
    "detached",
    "draw_particles",
    "latent_and_observed_sites",
    "log_density",
]


def detached(fn: Distribution) -> Distribution:
    """A copy of distribution ``fn`` whose parameters are cut from the autograd graph.

    ``detached(q).log_prob(z)`` then passes gradients to ``z`` only: the
    "stop-gradient on the variational parameters" of STL and DReG.
    """
    out = copy.copy(fn)
    for key, value in vars(fn).items():
        if isinstance(value, Tensor):
            setattr(out, key, value.detach())
        elif isinstance(value, Distribution):
            setattr(out, key, detached(value))
    return out


def latent_and_observed_sites(trace: Trace) -> list[dict[str, Any]]:
    """The sample sites of ``trace``, without the plates' subsample sites."""
    return [site for site in trace.nodes.values() if site["type"] == "sample" and not site_is_subsample(site)]


def log_density(trace: Trace, shape: torch.Size, stop_gradient_params: bool = False) -> Tensor:
    """Sum of the scaled, masked log-densities of ``trace``'s sample sites, broadcast to ``shape``.

    With ``stop_gradient_params`` each density is evaluated with detached
    parameters, so gradients reach only the sampled values.
    """
    terms = []
    for site in latent_and_observed_sites(trace):
        fn = detached(site["fn"]) if stop_gradient_params else site["fn"]
        terms.append(scale_and_mask(fn.log_prob(site["value"]), site["scale"], site["mask"]).expand(shape))
    return torch.stack(terms).sum(0)


@dataclass
class Particles:
    """``K`` vectorised draws for a batch: the traces and the per-example log-weights ``(K, B)``."""

    model_trace: Trace
    guide_trace: Trace
    log_w: Tensor

    @property
    def shape(self) -> torch.Size:
        return self.log_w.shape


def draw_particles(
    model: Callable[..., Any], guide: Callable[..., Any], args: tuple, kwargs: dict, num_particles: int
) -> Particles:
    """Run ``guide`` then ``model`` (replayed) once with ``num_particles`` vectorised particles.

    The model's data plate must be at ``dim=-1`` (the batch is ``args[0]``);
    the particles take ``dim=-2``.
    """
    with pyro.plate("particles", num_particles, dim=-2):
        guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
        model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
    shape = torch.Size((num_particles, args[0].shape[0]))
    log_w = log_density(model_trace, shape) - log_density(guide_trace, shape)
    return Particles(model_trace, guide_trace, log_w)


def check_reparameterized(name: str, guide_trace: Trace) -> None:
    """Refuse guides with sample sites that cannot be reparameterised."""
    for site in latent_and_observed_sites(guide_trace):
        if not site["is_observed"] and not site["fn"].has_rsample:
            raise ConfigError(
                f"estimator {name!r} needs reparameterized guide sites, but site {site['name']!r} "
                f"({type(site['fn']).__name__}) has no rsample: use estimator 'graph', 'relaxed' or 'enum' "
                "for such latents"
            )


class ParticleELBO(ELBO):
    """Base class: an ELBO defined by :meth:`differentiable_loss`; ``loss`` and ``loss_and_grads`` follow.

    Subclasses set ``name`` and implement :meth:`surrogate`, returning the
    bound (whose value is reported) and a surrogate (whose gradient is the
    estimator), both summed over the batch.
    """

    name = "particles"

    def __init__(self, num_particles: int = 1, max_plate_nesting: int = 1) -> None:
        if isinstance(num_particles, bool) or not isinstance(num_particles, int) or num_particles < 1:
            raise ConfigError(
                f"estimator {self.name!r}: num_particles must be a positive integer, got {num_particles!r}"
            )
        if max_plate_nesting != 1:
            raise ConfigError(f"estimator {self.name!r} works per example and needs exactly one (data) plate")
        super().__init__(num_particles=num_particles, max_plate_nesting=max_plate_nesting, vectorize_particles=True)

    def surrogate(self, particles: Particles) -> tuple[Tensor, Tensor]:
        """``(bound, surrogate)`` for the drawn particles."""
        raise NotImplementedError

    def _get_trace(self, model: Callable[..., Any], guide: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} draws its particles in differentiable_loss")

    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Tensor:
        """``-bound`` in value, ``-surrogate`` in gradient."""
        particles = draw_particles(model, guide, args, kwargs, self.num_particles)
        check_reparameterized(self.name, particles.guide_trace)
        bound, surrogate = self.surrogate(particles)
        return -(bound.detach() + surrogate - surrogate.detach())

    def loss(self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
        """``-bound`` as a float."""
        with torch.no_grad():
            return self.differentiable_loss(model, guide, *args, **kwargs).item()

    def loss_and_grads(self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
        """``-bound``, after accumulating the estimator's gradients."""
        loss = self.differentiable_loss(model, guide, *args, **kwargs)
        loss.backward()
        return loss.item()
