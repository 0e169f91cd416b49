"""Pyro's JIT-compiled ELBOs, made usable on modules whose parameters stay local.

:class:`pyro.infer.JitTrace_ELBO` and :class:`pyro.infer.JitTraceMeanField_ELBO`
find parameters through Pyro's global param store and compile once per set of
keyword arguments; in Pyro 1.9 the first doubles its gradient and the second
compiles on every call (both corrected below). :class:`ScopedJit` runs them
in a private param store (so two models never share parameters), compiles
once per batch shape (the data plate's size is fixed in a trace), and refuses
KL warm-up, whose changing weight would recompile every step. Compiling draws no numbers
from the training stream (see :meth:`ScopedJit.differentiable_loss`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pyro
import torch
from pyro.infer import ELBO, JitTrace_ELBO, JitTraceMeanField_ELBO
from torch import Tensor

from pyro_vae.errors import ConfigError
from pyro_vae.estimators._registry import ESTIMATORS, check_particles
from pyro_vae.registry import POSITIVE_INT

__all__ = ["ScopedJit", "jit_meanfield_elbo", "jit_trace_elbo"]


class _SurrogateGradientJitTrace_ELBO(JitTrace_ELBO):  # noqa: N801
    """JitTrace_ELBO whose ``differentiable_loss`` has the estimator's gradient, once.

    Pyro 1.9 returns ``loss + (surrogate - stop(surrogate))`` with a ``loss``
    that keeps its own graph, so the reparameterised gradient comes out twice.
    """

    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Tensor:
        loss, surrogate = self.loss_and_surrogate_loss(model, guide, *args, **kwargs)
        return loss.detach() + (surrogate - surrogate.detach())


class _CompileOnceJitTraceMeanField_ELBO(JitTraceMeanField_ELBO):  # noqa: N801
    """JitTraceMeanField_ELBO that compiles once.

    Pyro 1.9's class compiles again on every call: it tests for
    ``_loss_and_surrogate_loss`` but stores ``_differentiable_loss``. Setting
    the tested attribute after the first call makes it compile once.
    """

    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Tensor:
        loss = super().differentiable_loss(model, guide, *args, **kwargs)
        self._loss_and_surrogate_loss = self._differentiable_loss
        return loss


class ScopedJit(ELBO):
    """A JIT ELBO run in a private param store, compiled once per batch shape.

    Parameters
    ----------
    name
        Registry name, for messages.
    factory
        Builds one compiled ELBO (called once per batch shape).
    """

    def __init__(self, name: str, factory: Callable[[], ELBO]) -> None:
        super().__init__()
        self.name, self._factory = name, factory
        self._compiled: dict[tuple[int, ...], ELBO] = {}
        self._params: dict[str, dict] = {"params": {}, "constraints": {}}

    def differentiable_loss(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        x: Tensor,
        y: Tensor | None = None,
        kl_weight: float = 1.0,
    ) -> Tensor:
        if kl_weight != 1.0:
            raise ConfigError(
                f"estimator {self.name!r} compiles the loss once and cannot follow a changing KL "
                "weight: set train.kl_warmup_epochs = 0 or use the estimator without 'jit_'"
            )
        kwargs = {} if y is None else {"y": y}
        elbo = self._compiled.get(tuple(x.shape))
        if elbo is None:
            elbo = self._compiled[tuple(x.shape)] = self._factory()
            # compiling runs the loss twice more; on a forked RNG so that a resumed run, which compiles
            # again, draws exactly the numbers an uninterrupted run draws
            with torch.random.fork_rng():
                self._call(elbo, model, guide, x, kwargs)
        return self._call(elbo, model, guide, x, kwargs)

    def _call(
        self, elbo: ELBO, model: Callable[..., Any], guide: Callable[..., Any], x: Tensor, kwargs: dict[str, Any]
    ) -> Tensor:
        """``elbo``'s loss in this estimator's private param store."""
        with (
            pyro.settings.context(module_local_params=False),
            pyro.get_param_store().scope(state=self._params),
            warnings.catch_warnings(),
        ):
            warnings.filterwarnings("ignore", message=".*torch.jit.trace. is deprecated", category=FutureWarning)
            try:
                return elbo.differentiable_loss(model, guide, x, **kwargs)
            except NotImplementedError as error:  # Pyro's mean-field check on non-reparameterised sites
                raise ConfigError(
                    f"estimator {self.name!r} needs reparameterized guide sites ({error}): for binary "
                    "latents use estimator 'graph', 'relaxed' or 'enum'"
                ) from error

    def loss(self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
        return self.differentiable_loss(model, guide, *args, **kwargs).item()

    def _get_trace(self, model: Callable[..., Any], guide: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        raise NotImplementedError("ScopedJit delegates to the compiled ELBO")


@ESTIMATORS.register("jit_trace", {"num_particles": POSITIVE_INT})
def jit_trace_elbo(max_plate_nesting: int, num_particles: int = 1) -> ELBO:
    """``trace`` compiled with torch.jit (pyro.infer.JitTrace_ELBO); no KL warm-up.

    Parameters
    ----------
    num_particles
        Samples of ``z`` per data point (vectorised).
    """
    check_particles("jit_trace", num_particles)
    return ScopedJit(
        "jit_trace",
        lambda: _SurrogateGradientJitTrace_ELBO(
            num_particles=num_particles,
            vectorize_particles=num_particles > 1,
            max_plate_nesting=max_plate_nesting,
            ignore_jit_warnings=True,
        ),
    )


@ESTIMATORS.register("jit_meanfield", {"num_particles": POSITIVE_INT})
def jit_meanfield_elbo(max_plate_nesting: int, num_particles: int = 1) -> ELBO:
    """``meanfield`` compiled with torch.jit (pyro.infer.JitTraceMeanField_ELBO); no KL warm-up.

    Parameters
    ----------
    num_particles
        Samples of ``z`` per data point (vectorised).
    """
    check_particles("jit_meanfield", num_particles)
    return ScopedJit(
        "jit_meanfield",
        lambda: _CompileOnceJitTraceMeanField_ELBO(
            num_particles=num_particles,
            vectorize_particles=num_particles > 1,
            max_plate_nesting=max_plate_nesting,
            ignore_jit_warnings=True,
        ),
    )
