"""Ada-GVAE (kind ``ada_gvae``): pairs sharing an unknown number of factors (Locatello et al. 2020).

The model is a plain VAE applied to each member of a pair; the guide compares
the pair's posteriors dimension by dimension and pools those whose KL falls
below the adaptive threshold (:func:`~pyro_vae.guides.ada_gvae.adaptive_share`).
Pairs come from ``data.groups = "pairs"`` (factor-labelled data, e.g.
``shapes``) or groups of two sharing a label. Evaluation scores single
examples with the plain VAE inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyro_vae._pyro import local_params
from pyro_vae.config.schema import ModelConfig, RunConfig
from pyro_vae.errors import ConfigError
from pyro_vae.evaluation.groups import code_metrics
from pyro_vae.group_vae import TrainsOnGroups, check_grouping, grouping
from pyro_vae.group_vae_pictures import write_pair_pictures
from pyro_vae.guides.ada_gvae import AdaptivePairGuide
from pyro_vae.guides.group_vae import CONTENT_POOLING
from pyro_vae.guides.vae import VAEGuide
from pyro_vae.kinds import MODEL_KINDS, DataShape
from pyro_vae.models.ada_gvae import PairVAEModel
from pyro_vae.models.vae import VAEModel
from pyro_vae.vae import VAE, build_vae

if TYPE_CHECKING:
    from pyro_vae.data import DataBundle

__all__ = ["AdaGVAE", "build_ada_gvae", "check_pairs"]


class AdaGVAE(TrainsOnGroups, VAE):
    """A VAE trained on pairs with Ada-GVAE's adaptive sharing; its codes are the plain VAE's."""

    model: PairVAEModel
    guide: AdaptivePairGuide

    def scoring_programs(self) -> tuple[VAEModel, VAEGuide]:
        """Single examples scored by the plain VAE inside (its fast path included)."""
        return self.model.member, self.guide.member

    def extra_metrics(self, data: DataBundle) -> dict[str, Any]:
        """Disentanglement scores of the code for factor-labelled data (see :mod:`pyro_vae.evaluation.groups`)."""
        return code_metrics(self, data)

    def write_pictures(self, data: DataBundle, history: list[dict[str, float]], folder: Path) -> list[Path]:
        """Samples, reconstructions, the training curve, latent traversals and the codes by label."""
        return write_pair_pictures(self, data, history, folder)


def check_pairs(config: RunConfig, shape: DataShape) -> None:
    """The grouping must give pairs: :func:`~pyro_vae.group_vae.check_grouping`, and groups of exactly 2.

    Raises
    ------
    ConfigError, DataError
        As :func:`~pyro_vae.group_vae.check_grouping`, or for ``data.group_size`` other than 2.
    """
    check_grouping(config, shape)
    groups, size, _, _ = grouping(config.data)
    if groups == "label" and size != 2:
        raise ConfigError(f"model kind 'ada_gvae' compares pairs: set data.group_size = 2 (got {size})")


def build_ada_gvae(config: ModelConfig, shape: DataShape) -> AdaGVAE:
    """Build Ada-GVAE: the plain VAE ``config`` describes, wrapped in the pair programs."""
    pooling = config.option("pooling") or MODEL_KINDS.get("ada_gvae").options["pooling"]
    if pooling not in CONTENT_POOLING:
        raise ConfigError(f"model.pooling must be one of {', '.join(CONTENT_POOLING)}, got {pooling!r}")
    member = build_vae(config, shape.event_shape)
    if member.has_discrete_latents():
        raise ConfigError("model kind 'ada_gvae' compares Gaussian posteriors: use a continuous model.prior")
    with local_params():
        return AdaGVAE(PairVAEModel(member.model), AdaptivePairGuide(member.guide, pooling), 2, member.beta)
