"""Signal-to-noise ratio of gradient estimators at fixed parameters (Rainforth et al. 2018).

For each parameter element, ``SNR = |mean| / std`` over repeated gradient
estimates on the same batch; reported as the average over the elements of the
encoder (guide, without the baseline networks of score-function estimators)
and of the decoder (model: decoder, prior, likelihood).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from pyro_vae._device import module_device, to_device
from pyro_vae._pyro import local_params
from pyro_vae.config.combinations import model_traits
from pyro_vae.config.schema import ModelConfig
from pyro_vae.estimators import ESTIMATORS
from pyro_vae.estimators.needs import estimator_refusal
from pyro_vae.guides import BernoulliPosterior
from pyro_vae.registry import ComponentSpec
from pyro_vae.vae import VAE

__all__ = ["SNR_ESTIMATORS", "GradientSNR", "gradient_snr", "snr_estimators_refused"]

#: the estimators whose gradient SNR is traced against the number of particles
SNR_ESTIMATORS = ("iwae", "dreg")


def snr_estimators_refused(model: ModelConfig) -> dict[str, str]:
    """Each of :data:`SNR_ESTIMATORS` that cannot train the model ``model`` describes, with why (one sentence)."""
    traits = model_traits(model)
    reasons = {name: estimator_refusal(name, traits) for name in SNR_ESTIMATORS}
    return {name: why for name, why in reasons.items() if why is not None}


@dataclass
class GradientSNR:
    """Average element-wise ``|E g| / sd(g)`` of the encoder's and the decoder's gradients."""

    encoder: float
    decoder: float


class _RunningMoments:
    """Welford's running mean and variance of flattened gradients (float64, no stored draws).

    Kept on the gradients' ``device`` (on the CPU for MPS, which has no float64).
    """

    def __init__(self, size: int, device: torch.device) -> None:
        self.n = 0
        self.device = torch.device("cpu") if device.type == "mps" else device
        self.mean = torch.zeros(size, dtype=torch.float64, device=self.device)
        self.m2 = torch.zeros(size, dtype=torch.float64, device=self.device)

    def add(self, value: Tensor) -> None:
        self.n += 1
        value = value.to(self.device, torch.float64)
        delta = value - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (value - self.mean)

    def snr(self) -> float:
        """Mean over elements of ``|mean| / std``, leaving out elements whose gradient never varies.

        An exact gradient (e.g. ``enum`` summing over every latent value) never
        varies at all: its SNR is infinite (``nan`` if it is also zero).
        """
        std = (self.m2 / max(self.n - 1, 1)).sqrt()
        varies = std > 0
        if bool(varies.any()):
            return float((self.mean[varies].abs() / std[varies]).mean())
        return float("inf") if bool((self.mean != 0).any()) else float("nan")


def _flat_grad(params: list[nn.Parameter]) -> Tensor:
    return torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).detach().flatten().float() for p in params]
    )


def _variational_parameters(guide: nn.Module) -> list[nn.Parameter]:
    """The guide's parameters of ``q`` itself, without the baseline networks of score-function estimators."""
    baselines = {id(p) for m in guide.modules() if isinstance(m, BernoulliPosterior) for p in m.baseline.parameters()}
    return [p for p in guide.parameters() if p.requires_grad and id(p) not in baselines]


def gradient_snr(vae: VAE, estimator: ComponentSpec, x: Tensor, repeats: int = 100, seed: int = 0) -> GradientSNR:
    """Estimate the gradient SNR of ``estimator`` at ``vae``'s current parameters on batch ``x``.

    Parameters
    ----------
    vae
        The model and guide; their parameters are not changed.
    estimator
        A registered estimator name or spec (``{"name": "iwae", "num_particles": 10}``).
    x
        The fixed batch (moved to ``vae``'s device, where the gradients and their moments are computed).
    repeats
        Independent gradient estimates (at least 2).
    seed
        Seeds the draws (the global random state is restored afterwards).
    """
    if repeats < 2:
        raise ValueError(f"gradient SNR needs at least 2 repeats, got {repeats}")
    loss = ESTIMATORS.build(estimator, max_plate_nesting=vae.max_plate_nesting)(vae.model, vae.guide)
    device = module_device(vae)
    x = to_device(x, device)
    guide_params = _variational_parameters(vae.guide)
    model_params = [p for p in vae.model.parameters() if p.requires_grad]
    encoder = _RunningMoments(sum(p.numel() for p in guide_params), device)
    decoder = _RunningMoments(sum(p.numel() for p in model_params), device)
    with torch.random.fork_rng(), local_params():
        torch.manual_seed(seed)
        for _ in range(repeats):
            vae.zero_grad(set_to_none=True)
            (loss(x) / x.shape[0]).backward()
            encoder.add(_flat_grad(guide_params))
            decoder.add(_flat_grad(model_params))
    vae.zero_grad(set_to_none=True)
    return GradientSNR(encoder=encoder.snr(), decoder=decoder.snr())
