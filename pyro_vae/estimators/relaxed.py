"""Concrete (Gumbel-sigmoid) relaxation of binary latents, with a temperature schedule and straight-through option.

During training every :class:`~pyro_vae.distributions.BernoulliCode` latent
site, in the model and in the guide, is replaced by its Concrete relaxation at
temperature ``tau`` (Maddison et al. 2017; Jang et al. 2017), which is
reparameterised, and the ELBO of the relaxed model is optimised as in
``trace``. ``tau`` decays as ``max(min_temperature, temperature * exp(-anneal_rate * step))``.
With ``straight_through`` the decoder sees bits rounded to ``{0, 1}`` while
gradients flow through the relaxed values. Evaluation (validation and test
bounds, log-likelihood) always uses the discrete model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from pyro.infer import ELBO, Trace_ELBO
from pyro.poutine.messenger import Messenger
from torch import Tensor

from pyro_vae.distributions import BernoulliCode
from pyro_vae.errors import ConfigError
from pyro_vae.estimators._registry import ESTIMATORS, PARTICLE_RANGES
from pyro_vae.estimators._state import StatefulEstimator
from pyro_vae.estimators.pyro_elbos import with_particles
from pyro_vae.registry import BOOLEAN, NON_NEGATIVE, POSITIVE

__all__ = ["RelaxBinaryCodes", "Relaxed_ELBO", "relaxed_elbo"]


class RelaxBinaryCodes(Messenger):
    """Replace the distribution of every latent binary-code site by its Concrete relaxation."""

    def __init__(self, temperature: float, straight_through: bool) -> None:
        super().__init__()
        self.temperature, self.straight_through = temperature, straight_through

    def _pyro_sample(self, msg: dict[str, Any]) -> None:
        if not msg["is_observed"] and isinstance(msg["fn"], BernoulliCode):
            msg["fn"] = msg["fn"].relaxed(self.temperature, self.straight_through)


class Relaxed_ELBO(Trace_ELBO, StatefulEstimator):  # noqa: N801 (named like Pyro's Trace_ELBO)
    """Trace_ELBO on the Concrete-relaxed model and guide; the temperature decays with each training step.

    The number of steps taken is the estimator's state, saved in every checkpoint.
    """

    def __init__(
        self,
        temperature: float = 1.0,
        min_temperature: float = 0.5,
        anneal_rate: float = 1e-4,
        straight_through: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.initial, self.minimum, self.rate = temperature, min_temperature, anneal_rate
        self.straight_through = straight_through
        self.steps = 0

    @property
    def temperature(self) -> float:
        """The temperature of the next training step."""
        return max(self.minimum, self.initial * math.exp(-self.rate * self.steps))

    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Tensor:
        relax = RelaxBinaryCodes(self.temperature, self.straight_through)
        loss = super().differentiable_loss(relax(model), relax(guide), *args, **kwargs)
        if torch.is_grad_enabled():
            self.steps += 1
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = int(state.get("steps", 0))


def _positive(option: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"estimator 'relaxed': {option} must be a positive number, got {value!r}")
    return float(value)


@ESTIMATORS.register(
    "relaxed",
    {
        **PARTICLE_RANGES,
        "temperature": POSITIVE,
        "min_temperature": POSITIVE,
        "anneal_rate": NON_NEGATIVE,
        "straight_through": BOOLEAN,
    },
)
def relaxed_elbo(
    max_plate_nesting: int,
    temperature: float = 1.0,
    min_temperature: float = 0.5,
    anneal_rate: float = 1e-4,
    straight_through: bool = False,
    num_particles: int = 1,
    vectorize_particles: bool = True,
) -> ELBO:
    """Binary latents trained through their Concrete relaxation (reparameterised); other sites as ``trace``.

    Parameters
    ----------
    temperature, min_temperature, anneal_rate
        The schedule ``tau = max(min_temperature, temperature * exp(-anneal_rate * step))``.
        A resumed run continues the schedule where it stopped.
    straight_through
        Round the relaxed bits to ``{0, 1}`` in the forward pass, keep relaxed gradients.
    num_particles, vectorize_particles
        As for ``trace``.
    """
    tau, tau_min = _positive("temperature", temperature), _positive("min_temperature", min_temperature)
    if isinstance(anneal_rate, bool) or not isinstance(anneal_rate, (int, float)) or anneal_rate < 0:
        raise ConfigError(f"estimator 'relaxed': anneal_rate must be a non-negative number, got {anneal_rate!r}")
    if tau_min > tau:
        raise ConfigError(
            f"estimator 'relaxed': min_temperature ({tau_min}) must not exceed temperature ({tau}), "
            "the starting point of the schedule"
        )
    if not isinstance(straight_through, bool):
        raise ConfigError(f"estimator 'relaxed': straight_through must be true or false, got {straight_through!r}")
    return with_particles(
        Relaxed_ELBO,
        "relaxed",
        max_plate_nesting,
        num_particles,
        vectorize_particles,
        temperature=tau,
        min_temperature=tau_min,
        anneal_rate=float(anneal_rate),
        straight_through=straight_through,
    )
