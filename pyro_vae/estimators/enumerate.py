"""Exact sums over discrete latents: missing labels, small binary codes (TraceEnum_ELBO).

Every guide site with an enumerable support is marked for parallel
enumeration, so ``E_q`` over it is an exact weighted sum instead of a sample.
A binary code of ``k`` bits has ``2**k`` joint values, all decoded at once: the
estimator refuses codes above ``max_bits`` (raise it if memory allows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyro import poutine
from pyro.infer import ELBO, TraceEnum_ELBO
from torch import Tensor

from pyro_vae._pyro import is_latent_sample
from pyro_vae.distributions import BernoulliCode
from pyro_vae.errors import ConfigError
from pyro_vae.estimators._direct_ss import direct_ss_applies, direct_ss_loss
from pyro_vae.estimators._registry import ESTIMATORS, PARTICLE_RANGES
from pyro_vae.estimators.pyro_elbos import with_particles
from pyro_vae.registry import POSITIVE_INT

__all__ = ["EnumerateAll_ELBO", "enum_elbo"]


class _RefusedError(Exception):
    """Raised inside the guide's trace when a code is too large to enumerate."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EnumerateAll_ELBO(TraceEnum_ELBO):  # noqa: N801 (named like Pyro's classes)
    """:class:`pyro.infer.TraceEnum_ELBO` that enumerates every enumerable guide site, up to ``max_bits`` per code.

    The semi-supervised VAE with one particle skips Pyro's tracing
    (:func:`~pyro_vae.estimators._direct_ss.direct_ss_loss`): the same numbers, less overhead.
    """

    def __init__(self, max_bits: int = 12, **options: Any) -> None:
        super().__init__(**options)
        self.max_bits = max_bits

    def _configure(self, msg: dict[str, Any]) -> dict[str, Any]:
        fn = msg["fn"]
        if not is_latent_sample(msg) or not fn.has_enumerate_support or "enumerate" in msg["infer"]:
            return {}
        if isinstance(fn, BernoulliCode) and fn.event_shape[0] > self.max_bits:
            raise _RefusedError(
                f"estimator 'enum' would sum over all 2**{fn.event_shape[0]} codes of site {msg['name']!r}, "
                f"above its max_bits = {self.max_bits}: use fewer bits, raise max_bits "
                f'(train.estimator = {{name = "enum", max_bits = {fn.event_shape[0]}}}) if memory allows, '
                "or train with 'graph' or 'relaxed'"
            )
        return {"enumerate": "parallel"}

    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Tensor:
        if self.num_particles == 1 and direct_ss_applies(model, guide, args, kwargs):
            return direct_ss_loss(model, guide, *args, **kwargs)
        try:
            return super().differentiable_loss(model, poutine.infer_config(guide, self._configure), *args, **kwargs)
        except _RefusedError as refusal:  # Pyro appends trace shapes to errors raised inside a trace: keep our words
            raise ConfigError(refusal.reason) from None


@ESTIMATORS.register("enum", {**PARTICLE_RANGES, "max_bits": POSITIVE_INT})
def enum_elbo(
    max_plate_nesting: int, num_particles: int = 1, vectorize_particles: bool = True, max_bits: int = 12
) -> ELBO:
    """Sums exactly over enumerable discrete sites, e.g. missing labels or binary codes (pyro.infer.TraceEnum_ELBO).

    Other sites as for ``trace``; without enumerable sites it is ``trace``.

    Parameters
    ----------
    num_particles, vectorize_particles
        As for ``trace``.
    max_bits
        Largest binary code summed over (``2**max_bits`` decoder passes per example).
    """
    if isinstance(max_bits, bool) or not isinstance(max_bits, int) or max_bits < 1:
        raise ConfigError(f"estimator 'enum': max_bits must be a positive integer, got {max_bits!r}")
    return with_particles(
        EnumerateAll_ELBO,
        "enum",
        max_plate_nesting,
        num_particles,
        vectorize_particles,
        max_bits=max_bits,
        strict_enumeration_warning=False,
    )
