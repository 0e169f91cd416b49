"""Model kinds, looked up by ``[model] kind`` in :data:`MODEL_KINDS`: vae, ss_vae, group_vae, ada_gvae.

This table holds what configuration checks need (names, options, default
estimator); the implementations (:mod:`pyro_vae.vae`, :mod:`pyro_vae.ss_vae`,
:mod:`pyro_vae.group_vae`, :mod:`pyro_vae.ada_gvae`) are imported when a model is built. Options that are
not fields of ``ModelConfig`` are kept in its ``kind_options`` and checked here.
A new kind is one more entry here (or one ``MODEL_KINDS.register(name)(ModelKind(...))``
call in the package that adds it) and a builder ``(ModelConfig, DataShape) -> VAE``;
nothing in :mod:`pyro_vae.config` changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyro_vae.kinds._registry import MODEL_KINDS, ModelKind
from pyro_vae.kinds._shape import DataShape

if TYPE_CHECKING:
    from pyro_vae.config.schema import RunConfig

__all__ = ["MODEL_KINDS", "DataShape", "ModelKind", "labelled_per_batch"]

MODEL_KINDS.register("vae")(
    ModelKind(
        builder="pyro_vae.vae:build_vae_kind",
        # a binary block of this many bits beside z (a mixed model), and its prior; beta weighs the KL
        # term in training (beta-VAE, Higgins et al. 2017; 1 is the ELBO), apart from the KL warm-up
        options={"bits": 0, "bits_prior": "bernoulli", "beta": 1.0},
    )
)

#: the default ``train.labelled_per_batch`` of kind ss_vae is this share of ``train.batch_size`` (16 of 128)
LABELLED_SHARE = 1 / 8


def labelled_per_batch(config: RunConfig) -> int:
    """Default ``train.labelled_per_batch`` of kind ss_vae: :data:`LABELLED_SHARE` of the batch (at least 1)."""
    size = config.train.batch_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        return 0  # batches of one row cannot mix; validation names a bad batch size
    return max(1, round(size * LABELLED_SHARE))


MODEL_KINDS.register("ss_vae")(
    ModelKind(
        builder="pyro_vae.ss_vae:build_ss_vae",
        default_estimator="enum",
        uses_labels=True,
        options={
            "factors": None,
            "classifier": None,
            "alpha": 100.0,  # nats per labelled row (Kingma et al.'s 0.1 N is ~1 per labelled row on digits: too weak)
            "adversary": 0.0,
            "consistency": 0.0,  # on images: pyro_vae.ss_vae.IMAGE_CONSISTENCY (see consistency_weight)
            "consistency_shift": None,  # None: a share of the image side (pyro_vae.ss_vae.consistency_shift)
            "features": 256,
        },
        # set when the configuration leaves them out: the classifier sees grey levels (a binarized test
        # image loses what tells digits apart), a style z of 8, labelled rows in every batch, and no early
        # stop on a noisy validation accuracy (the best epoch is still selected: SSVAE.selection)
        defaults={
            "model.likelihood": "continuous_bernoulli",
            "model.z_dim": 8,
            "train.labelled_per_batch": labelled_per_batch,
            "train.patience": 0,
        },
    )
)

MODEL_KINDS.register("group_vae")(
    ModelKind(
        builder="pyro_vae.group_vae:build_group_vae",
        check="pyro_vae.group_vae:check_grouping",
        nested_plates=True,
        options={
            "s_dim": 2,  # content dimensions, shared by a group ([model] z_dim: each member's style)
            "pooling": "product",  # how members' content evidence is pooled: product (ML-VAE) or average (GVAE)
            "content_prior": None,  # p(s); None: the same family as model.prior
            "beta": 1.0,  # weight of the KL terms in training, as for kind vae
            "adversary": 0.0,  # nats per member: an adversary predicting the shared label from z, gradient reversed
            "swap_adversary": 0.0,  # nats per member: a critic of images decoded from swapped codes (Mathieu 2016)
            "swap_condition": "group",  # what the critic sees beside the image: a real image of the group or "class"
        },
    )
)

MODEL_KINDS.register("ada_gvae")(
    ModelKind(
        builder="pyro_vae.ada_gvae:build_ada_gvae",
        check="pyro_vae.ada_gvae:check_pairs",
        nested_plates=True,
        options={
            "pooling": "average",  # the shared dimensions' posterior: average (Ada-GVAE) or product (Ada-ML-VAE)
            "beta": 1.0,  # weight of the KL terms in training
        },
    )
)
