"""A linear-Gaussian VAE, whose marginal likelihood and posterior have closed forms.

Model: ``z ~ N(0, I_k)``, ``x | z ~ N(W z + b, diag(s^2))``. Then
``p(x) = N(x; b, W W^T + diag(s^2))`` and, with a shared scale ``s`` and
orthogonal columns of ``W``, the posterior ``p(z | x)`` is Gaussian with a
diagonal covariance, so the VAE's guide family contains it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from pyro_vae.guides.vae import raw_for_scale
from torch import Tensor

from pyro_vae.config import ModelConfig
from pyro_vae.vae import VAE, build_vae


@dataclass
class LinearGaussian:
    """Parameters ``W`` (d, k), ``b`` (d,) and the observation scale ``s`` (d,), in float64."""

    W: Tensor
    b: Tensor
    s: Tensor

    @property
    def d(self) -> int:
        return self.W.shape[0]

    @property
    def k(self) -> int:
        return self.W.shape[1]

    def marginal(self) -> torch.distributions.MultivariateNormal:
        cov = self.W @ self.W.T + torch.diag(self.s**2)
        return torch.distributions.MultivariateNormal(self.b, covariance_matrix=cov)

    def log_likelihood(self, x: Tensor) -> Tensor:
        """Exact ``log p(x)`` per example."""
        return self.marginal().log_prob(x)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        z = torch.randn(n, self.k, generator=generator, dtype=torch.float64)
        return z @ self.W.T + self.b + self.s * torch.randn(n, self.d, generator=generator, dtype=torch.float64)

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean ``(N, k)`` and full covariance ``(k, k)`` of ``p(z | x)``."""
        precision = torch.eye(self.k, dtype=torch.float64) + self.W.T @ torch.diag(self.s**-2) @ self.W
        cov = torch.linalg.inv(precision)
        mean = (x - self.b) @ torch.diag(self.s**-2) @ self.W @ cov
        return mean, cov


def make_linear_gaussian(d: int = 6, k: int = 2, scale: float = 0.5, seed: int = 0) -> LinearGaussian:
    """``W`` with orthogonal columns of different lengths, so the exact posterior is diagonal."""
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, k, generator=gen, dtype=torch.float64))
    lengths = torch.linspace(1.0, 2.0, k, dtype=torch.float64)
    b = torch.randn(d, generator=gen, dtype=torch.float64)
    return LinearGaussian(q * lengths, b, torch.full((d,), scale, dtype=torch.float64))


def linear_vae(lg: LinearGaussian) -> VAE:
    """A pyro-vae VAE (linear MLPs, fixed-scale normal likelihood) holding ``lg``'s decoder, in float64."""
    config = ModelConfig(
        z_dim=lg.k,
        prior="normal",
        likelihood={"name": "normal", "scale": float(lg.s[0]), "learn_scale": False},
        network={"name": "mlp", "hidden": []},
    )
    vae = build_vae(config, (lg.d,)).double()
    (layer,) = vae.model.decoder.net
    with torch.no_grad():
        layer.weight.copy_(lg.W)
        layer.bias.copy_(lg.b)
    return vae


def set_guide(vae: VAE, lg: LinearGaussian, loc_shift: float = 0.0, scale_factor: float = 1.0) -> None:
    """Make the guide the exact posterior (defaults), or a shifted / rescaled copy of it."""
    precision = torch.eye(lg.k, dtype=torch.float64) + lg.W.T @ lg.W / lg.s[0] ** 2
    variances = 1.0 / torch.diagonal(precision)
    gain = (lg.W / lg.s[0] ** 2 * variances).T  # (k, d): E[z | x] = gain (x - b)
    (layer,) = vae.guide.encoder.net
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[: lg.k] = gain
        layer.bias[: lg.k] = -gain @ lg.b + loc_shift
        stds = (variances.sqrt() * scale_factor).tolist()
        layer.bias[lg.k :] = torch.tensor([raw_for_scale(s) for s in stds], dtype=torch.float64)


def kl_to_posterior(vae: VAE, lg: LinearGaussian, x: Tensor) -> Tensor:
    """``KL(q(z | x) || p(z | x))`` per example, in closed form."""
    loc, scale = vae.encode(x)
    mean, cov = lg.posterior(x)
    q = torch.distributions.MultivariateNormal(loc, scale_tril=torch.diag_embed(scale))
    p = torch.distributions.MultivariateNormal(mean, covariance_matrix=cov)
    return torch.distributions.kl_divergence(q, p)


def closed_form_elbo(vae: VAE, x: Tensor) -> Tensor:
    """The exact ELBO of a :func:`linear_vae`, summed over the batch, differentiable in every parameter.

    ``E_q log p(x | z) - KL(q || N(0, I))`` with ``q = N(m, diag(v))``,
    ``E_q ||x - W z - b||^2 = ||x - W m - b||^2 + sum_j ||W_:j||^2 v_j``.
    """
    loc, scale = vae.encode(x)
    (layer,) = vae.model.decoder.net
    s = vae.likelihood.scale
    var = scale**2
    residual = x - loc @ layer.weight.T - layer.bias
    spread = var @ (layer.weight**2).T
    expected_log_lik = (-0.5 * torch.log(2 * torch.pi * s**2) - (residual**2 + spread) / (2 * s**2)).sum(-1)
    kl = 0.5 * (var + loc**2 - 1.0 - torch.log(var)).sum(-1)
    return (expected_log_lik - kl).sum()
