"""Posterior families of a guide's latent blocks: how encoder features become ``q(z | x)``.

A guide owns one family per latent site. Each family reads
``outputs_per_latent * dim`` encoder features and returns a distribution with
event shape ``(dim,)``; the prior of the site names its family
(``Prior.guide_family``).
"""

from __future__ import annotations

import math

import pyro.distributions as dist
from torch import Tensor, nn
from torch.nn.functional import softplus

from pyro_vae.distributions import BernoulliCode, DiagonalNormal, standard_normal_log_prob

__all__ = [
    "MIN_SCALE",
    "POSTERIOR_FAMILIES",
    "BernoulliPosterior",
    "NormalPosterior",
    "PosteriorFamily",
    "raw_for_scale",
]

#: added to ``softplus(raw)`` so the posterior scale never underflows to zero
MIN_SCALE = 1e-6


def raw_for_scale(scale: float) -> float:
    """The encoder output that gives posterior standard deviation ``scale``."""
    return math.log(math.expm1(scale - MIN_SCALE))


class PosteriorFamily(nn.Module):
    """Base class: ``dim`` latent dimensions read from ``outputs_per_latent * dim`` features."""

    outputs_per_latent = 1

    def __init__(self, dim: int, event_size: int) -> None:
        super().__init__()
        self.dim = dim

    @property
    def outputs(self) -> int:
        return self.outputs_per_latent * self.dim

    def distribution(self, features: Tensor) -> dist.TorchDistribution:
        """``q`` for this block from its slice of the encoder output."""
        raise NotImplementedError

    def rsample_and_log_prob(self, features: Tensor, sample_shape: tuple[int, ...] = ()) -> tuple[Tensor, Tensor]:
        """A reparameterised draw ``z ~ q`` and ``log q(z)`` per code (nats), as one step of training needs them.

        ``q = self.distribution(features)``: ``z = q.rsample(sample_shape)``, shape
        ``(*sample_shape, *batch, dim)``, and ``q.log_prob(z)``, shape ``(*sample_shape, *batch)``. A family
        may compute both without building ``q``, with the same draw and the same value and gradient up to
        float rounding.

        Raises
        ------
        NotImplementedError
            For a family whose codes have no reparameterised draw (discrete codes).
        """
        q = self.distribution(features)
        if not q.has_rsample:
            raise NotImplementedError(
                f"{type(self).__name__} draws codes without a reparameterised draw: score them through the "
                "traced estimators (Trace_ELBO and its kin), not rsample_and_log_prob"
            )
        z = q.rsample(sample_shape)
        return z, q.log_prob(z)

    def moments(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of ``q`` per dimension."""
        q = self.distribution(features)
        return q.mean, q.variance.sqrt()

    def infer(self, x: Tensor) -> dict:
        """Extra ``infer`` entries for the sample site (none by default)."""
        return {}


class NormalPosterior(PosteriorFamily):
    """``q(z | x) = N(mu(x), diag sigma(x)^2)``, ``sigma = softplus(raw) + MIN_SCALE`` (``mu`` first, then ``raw``)."""

    outputs_per_latent = 2

    def distribution(self, features: Tensor) -> dist.TorchDistribution:
        return DiagonalNormal(*self._loc_scale(features))

    def _loc_scale(self, features: Tensor) -> tuple[Tensor, Tensor]:
        loc, raw = features.split(self.dim, dim=-1)
        return loc, softplus(raw) + MIN_SCALE

    def rsample_and_log_prob(self, features: Tensor, sample_shape: tuple[int, ...] = ()) -> tuple[Tensor, Tensor]:
        """``z = loc + scale * eps`` and ``log q(z) = -sum(eps^2) / 2 - sum(log scale) - dim log sqrt(2 pi)``.

        ``(z - loc) / scale`` is ``eps`` itself, so ``log q`` is scored from the standard draw: the same
        value as ``q.log_prob(z)``, and the same total gradient (through ``z`` and through ``scale``; that
        through ``loc`` is zero either way), with fewer operations; in float32 it is the more accurate one when
        ``|loc|`` dwarfs ``scale`` (``z - loc`` then cancels). ``eps`` is drawn as
        ``Normal.rsample`` draws it, so the code is the same as ``self.distribution(features).rsample()``.
        With Pyro's validation on, the checked distribution is built instead.
        """
        if dist.is_validation_enabled():
            return super().rsample_and_log_prob(features, sample_shape)
        loc, scale = self._loc_scale(features)
        eps = loc.new_empty((*sample_shape, *loc.shape)).normal_()
        log_q = standard_normal_log_prob(eps) - scale.log().sum(-1)
        return loc + eps * scale, log_q


class BernoulliPosterior(PosteriorFamily):
    """``q(z | x) = prod_i Bernoulli(sigmoid(l_i(x)))``, one logit per bit.

    It also owns a small network ``b(x)`` that score-function estimators may
    use as a learned baseline (``estimator = {name = "graph", baseline =
    "learned"}``); it is offered to them under ``infer["learned_baseline"]``.
    """

    def __init__(self, dim: int, event_size: int, baseline_hidden: int = 100) -> None:
        super().__init__(dim, event_size)
        self.baseline = nn.Sequential(nn.Linear(event_size, baseline_hidden), nn.ReLU(), nn.Linear(baseline_hidden, 1))

    def distribution(self, features: Tensor) -> BernoulliCode:
        return BernoulliCode(features)

    def infer(self, x: Tensor) -> dict:
        return {"learned_baseline": {"nn_baseline": self._baseline, "nn_baseline_input": x}}

    def _baseline(self, x: Tensor) -> Tensor:
        return self.baseline(x.flatten(1)).squeeze(-1)


#: posterior family per ``Prior.guide_family`` name
POSTERIOR_FAMILIES: dict[str, type[PosteriorFamily]] = {"normal": NormalPosterior, "bernoulli": BernoulliPosterior}
