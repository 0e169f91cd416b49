"""The VampPrior (Tomczak & Welling 2018): the aggregate posterior of learned pseudo-inputs."""

from __future__ import annotations

from typing import Any

import pyro.distributions as dist
import torch
from pyro.nn import PyroParam

from pyro_vae.distributions import DiagonalNormalMixture
from pyro_vae.errors import ConfigError
from pyro_vae.priors._registry import PRIORS, Prior, check_positive
from pyro_vae.registry import FINITE, POSITIVE, POSITIVE_INT

__all__ = ["VampPrior"]


@PRIORS.register("vamp", {"components": POSITIVE_INT, "init_mean": FINITE, "init_std": POSITIVE})
class VampPrior(Prior):
    """``p(z) = (1/K) sum_k q(z | u_k)``: the guide's own posterior at ``K`` learned pseudo-inputs ``u_k``.

    The pseudo-inputs have the shape of one example and are learned with the
    rest of the model; the guide is shared, so the prior follows the encoder
    as it trains. Plain VAEs with a Gaussian ``z`` only.

    Parameters
    ----------
    z_dim
        Latent dimension.
    components
        Number of pseudo-inputs ``K``.
    init_mean, init_std
        The pseudo-inputs start as ``init_mean + init_std * N(0, 1)``
        (defaults suit data scaled to [0, 1]).
    """

    standalone = False

    def __init__(self, z_dim: int, components: int = 100, init_mean: float = 0.5, init_std: float = 0.1) -> None:
        super().__init__(z_dim)
        check_positive("prior 'vamp'", "components", components, integer=True)
        check_positive("prior 'vamp'", "init_std", init_std)
        if isinstance(init_mean, bool) or not isinstance(init_mean, (int, float)):
            raise ConfigError(f"prior 'vamp': option 'init_mean' must be a number, got {init_mean!r}")
        self.components, self.init_mean, self.init_std = components, float(init_mean), float(init_std)
        self._guide: list[Any] = []  # held outside the module tree: the guide owns its parameters

    def bind(self, guide: Any, event_shape: tuple[int, ...]) -> None:
        """Share ``guide``'s posterior of site ``z`` and create the pseudo-inputs for examples of ``event_shape``."""
        self._guide[:] = [guide]
        self.pseudo_inputs = PyroParam(self.init_mean + self.init_std * torch.randn(self.components, *event_shape))

    def forward(self) -> dist.TorchDistribution:
        if not self._guide:
            raise ConfigError("prior 'vamp' needs the guide's encoder: build the VAE with pyro_vae.build_vae")
        q = self._guide[0].posteriors(self.pseudo_inputs)["z"]
        logits = torch.zeros(self.components, dtype=self.pseudo_inputs.dtype, device=self.pseudo_inputs.device)
        return DiagonalNormalMixture(logits, q.mean, q.stddev)
