"""Score-function gradients with baselines for latents that cannot be reparameterised (TraceGraph_ELBO).

For a binary code the gradient of ``E_q[f(z)]`` with respect to ``q``'s
parameters is estimated as ``(f(z) - b) * grad log q(z | x)``; any ``b`` that
does not depend on the sampled ``z`` leaves it unbiased and a good one cuts its
variance (Mnih & Gregor 2014). Three choices of ``b``:

- ``decaying``: an exponential moving average of the per-example bound over past steps;
- ``learned``: the guide's own network ``b(x)``, fitted by least squares to the
  cost it predicts (offered by Bernoulli guides, see :mod:`pyro_vae.guides.posteriors`);
- ``none``: plain REINFORCE with Pyro's Rao-Blackwellised downstream costs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from pyro import poutine
from pyro.infer import ELBO
from torch import Tensor

from pyro_vae._pyro import is_latent_sample
from pyro_vae.errors import ConfigError
from pyro_vae.estimators._registry import ESTIMATORS, PARTICLE_RANGES
from pyro_vae.estimators._state import StatefulEstimator
from pyro_vae.estimators.pyro_elbos import DifferentiableTraceGraph_ELBO, with_particles
from pyro_vae.registry import FRACTION, OptionRange

__all__ = ["BASELINES", "BaselinedTraceGraph_ELBO", "DecayingAverage", "graph_elbo"]

#: the ``baseline`` option's values
BASELINES = ("decaying", "learned", "none")
BASELINE = OptionRange(f"one of {', '.join(BASELINES)}", lambda name: name in BASELINES)


class DecayingAverage:
    """A baseline that is the moving average ``m <- beta m + (1 - beta) v`` of past per-example bounds ``v``."""

    def __init__(self, beta: float) -> None:
        self.beta = beta
        self.value: float | None = None

    def __call__(self, template: Tensor) -> Tensor:
        """The current average, shaped like ``template`` (the site's batch shape)."""
        return torch.full_like(template, self.value or 0.0)

    def update(self, per_example: float) -> None:
        self.value = per_example if self.value is None else self.beta * self.value + (1 - self.beta) * per_example


def _shaped_as_cost(baseline: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """``baseline`` with leading size-1 dimensions dropped, as Pyro drops them from a site's downstream cost.

    Pyro sums the cost to the site's plates and squeezes leading dimensions of size 1, so a batch of one
    example (the last batch of an epoch, say) has a scalar cost; the baseline must be a scalar then too.
    """

    def shaped(x: Tensor) -> Tensor:
        value = baseline(x)
        while value.dim() and value.shape[0] == 1:
            value = value.squeeze(0)
        return value

    return shaped


class BaselinedTraceGraph_ELBO(DifferentiableTraceGraph_ELBO, StatefulEstimator):  # noqa: N801 (like Pyro's)
    """:class:`pyro.infer.TraceGraph_ELBO` with a baseline on every non-reparameterised guide site.

    The ``decaying`` baseline is this object's :class:`DecayingAverage` (passed to Pyro as an
    ``nn_baseline``, so nothing lands in Pyro's param store); it is the estimator's state,
    saved in every checkpoint. The ``learned`` baseline's weights belong to the guide.

    Parameters
    ----------
    baseline
        ``"decaying"``, ``"learned"`` or ``"none"`` (see the module docstring).
    beta
        Decay of the moving average (``decaying`` only), in ``[0, 1)``.
    """

    def __init__(self, baseline: str = "decaying", beta: float = 0.9, **options: Any) -> None:
        super().__init__(**options)
        self.baseline = baseline
        self.average = DecayingAverage(beta)

    def _configure(self, msg: dict[str, Any]) -> dict[str, Any]:
        if not is_latent_sample(msg) or msg["fn"].has_rsample or self.baseline == "none":
            return {}
        if self.baseline == "decaying":
            # the site's batch shape, on the device of its parameters (its mean: no draw spent on it)
            template = torch.zeros(msg["fn"].batch_shape, device=msg["fn"].mean.device)
            return {"baseline": {"nn_baseline": _shaped_as_cost(self.average), "nn_baseline_input": template}}
        offered = msg["infer"].get("learned_baseline")
        if offered is None:
            raise ConfigError(
                f"estimator 'graph': baseline 'learned' needs a guide that offers a baseline network, but site "
                f"{msg['name']!r} ({type(msg['fn']).__name__}) has none: use baseline 'decaying'"
            )
        return {"baseline": {**offered, "nn_baseline": _shaped_as_cost(offered["nn_baseline"])}}

    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Tensor:
        loss = super().differentiable_loss(model, poutine.infer_config(guide, self._configure), *args, **kwargs)
        if torch.is_grad_enabled() and self.baseline == "decaying":
            self.average.update(-loss.item() / args[0].shape[0])
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {"baseline_average": self.average.value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        value = state.get("baseline_average")
        self.average.value = None if value is None else float(value)


@ESTIMATORS.register(
    "graph",
    {
        **PARTICLE_RANGES,
        "baseline": OptionRange(f"one of {', '.join(BASELINES)}", BASELINES.__contains__),
        "beta": FRACTION,
    },
)
def graph_elbo(
    max_plate_nesting: int,
    num_particles: int = 1,
    vectorize_particles: bool = True,
    baseline: str = "decaying",
    beta: float = 0.9,
) -> ELBO:
    """Score-function terms for non-reparameterisable sites, with a baseline (pyro.infer.TraceGraph_ELBO).

    Reparameterised sites are handled as in ``trace``.

    Parameters
    ----------
    num_particles, vectorize_particles
        As for ``trace`` (particles are looped, not vectorised, when a baseline is used).
    baseline
        ``"decaying"`` (moving average of the bound), ``"learned"`` (the guide's
        baseline network) or ``"none"``.
    beta
        Decay of the ``decaying`` baseline, in ``[0, 1)``.
    """
    if baseline not in BASELINES:
        raise ConfigError(f"estimator 'graph': baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < 1:
        raise ConfigError(f"estimator 'graph': beta must be a number in [0, 1), got {beta!r}")
    # baselines see one particle at a time: vectorise only without them
    return with_particles(
        BaselinedTraceGraph_ELBO,
        "graph",
        max_plate_nesting,
        num_particles,
        vectorize_particles and baseline == "none",
        baseline=baseline,
        beta=float(beta),
    )
