"""The group VAE (kind ``group_vae``): wrapper, builder, group batches and what it measures.

Content ``s`` is shared by the members of a group and style ``z`` is each
member's own (ML-VAE, Bouchacourt et al. 2018, with ``model.pooling =
"product"``; GVAE, Hosoya 2019, with ``"average"``). Training batches are
groups ``(B, G, *event_shape)`` whose members share a label's value
(``data.groups = "label"``) or pairs sharing some factors (``"pairs"``).
Evaluation scores each test example on its own (a group of one), in nats per
example like the other kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from pyro_vae._pyro import local_params
from pyro_vae.config.schema import DataConfig, ModelConfig, RunConfig
from pyro_vae.data.groups import GroupBatches, groups_by_label, pairs_sharing_factors
from pyro_vae.errors import ConfigError, DataError
from pyro_vae.evaluation.groups import group_metrics
from pyro_vae.group_vae_pictures import write_group_pictures
from pyro_vae.guides.group_vae import CONTENT_POOLING, GroupVAEGuide, MemberGuide
from pyro_vae.kinds import MODEL_KINDS, DataShape
from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.models.group_vae import GroupVAEModel, MemberModel
from pyro_vae.networks import NETWORKS, make_activation
from pyro_vae.networks.critic import CRITIC_CONDITIONS, SwapCritic
from pyro_vae.priors import PRIORS
from pyro_vae.registry import normalize_spec
from pyro_vae.vae import VAE

if TYPE_CHECKING:
    from pyro_vae.data import DataBundle, Shard, Split

__all__ = [
    "GROUP_OPTIONS",
    "GroupVAE",
    "TrainsOnGroups",
    "build_group_vae",
    "check_grouping",
    "group_batches",
    "grouping",
]

#: [model] fields only the group kind reads, with their defaults (declared in :mod:`pyro_vae.kinds`)
GROUP_OPTIONS: Mapping[str, Any] = MODEL_KINDS.get("group_vae").options
#: the ways [data] groups may be formed
GROUPINGS = ("label", "pairs")
#: hidden width of the adversary reading the shared label from the style
ADVERSARY_HIDDEN = 256


class TrainsOnGroups:
    """What a kind that trains on groups shares: group batches, and losses averaged over their members."""

    def training_batches(
        self,
        split: Split,
        config: RunConfig,
        generator: torch.Generator,
        dynamic_binarize: bool,
        shard: Shard | None = None,
    ) -> Iterable[tuple[Tensor, Tensor]]:
        """Groups drawn afresh each epoch, ``train.batch_size`` groups per batch (see :func:`group_batches`)."""
        return group_batches(split, config, generator, dynamic_binarize, shard)

    def examples_in(self, x: Tensor) -> int:
        """Members in a batch of groups ``(B, G, *event_shape)``."""
        return x.shape[0] * x.shape[1]


class GroupVAE(TrainsOnGroups, VAE):
    """Content per group, style per member; codes of one example are ``[s, z]`` side by side."""

    model: GroupVAEModel
    guide: GroupVAEGuide

    def __init__(self, model: GroupVAEModel, guide: GroupVAEGuide, beta: float = 1.0) -> None:
        super().__init__(model, guide, max_plate_nesting=2, beta=beta)

    @property
    def s_dim(self) -> int:
        return self.guide.s_dim

    @property
    def z_dim(self) -> int:
        return self.guide.s_dim + self.guide.z_dim

    @property
    def reads_labels(self) -> bool:
        """Whether training reads the label the groups share (an adversary, or a class-conditional critic)."""
        critic = self.model.critic
        return self.guide.adversary is not None or (critic is not None and critic.condition == "class")

    def loss_labels(self, y: Tensor | None) -> Tensor | None:
        """The label each group shares ``(B,)`` when training reads it (groups by label: ``y`` is ``(B, G)``)."""
        return y[:, 0] if self.reads_labels and y is not None else None

    def critic_parameters(self) -> list[nn.Parameter]:
        """The swap critic's parameters (trained in alternation with the ELBO), if the model has one."""
        return [] if self.model.critic is None else list(self.model.critic.parameters())

    def critic_loss(self, x: Tensor, y: Tensor | None) -> Tensor:
        """The swap critic's loss on groups ``x`` decoded from the posterior means (summed over members, nats)."""
        with torch.no_grad():
            content, style = self.guide.posteriors(x)
        return self.model.critic_loss(x, y, content.mean, style.mean)

    def split_code(self, code: Tensor) -> tuple[Tensor, Tensor]:
        """Content and style parts of codes ``(..., s_dim + z_dim)``."""
        return code[..., : self.s_dim], code[..., self.s_dim :]

    @torch.no_grad()
    def swap(self, content_of: Tensor, style_of: Tensor) -> Tensor:
        """``E[x | s(a), z(b)]`` for every pair: ``(A, B, *event_shape)`` from ``A`` content and ``B`` style images."""
        s = self.split_code(self.encode(content_of)[0])[0]
        z = self.split_code(self.encode(style_of)[0])[1]
        return self.decode(torch.cat([s[:, None].expand(-1, len(z), -1), z[None].expand(len(s), -1, -1)], -1))

    def scoring_programs(self) -> tuple[MemberModel, MemberGuide]:
        """Each example scored on its own, as a group of one (shares every parameter)."""
        return MemberModel(self.model), MemberGuide(self.guide)

    def extra_metrics(self, data: DataBundle) -> dict[str, Any]:
        """Shared-factor accuracy from ``s`` and ``z``, disentanglement scores (:mod:`pyro_vae.evaluation.groups`)."""
        return group_metrics(self, data)

    def write_pictures(self, data: DataBundle, history: list[dict[str, float]], folder: Path) -> list[Path]:
        """Samples, reconstructions, the swap grid, the training curve and content codes by group label."""
        return write_group_pictures(self, data, history, folder)


def grouping(data: DataConfig) -> tuple[str, int, int, int]:
    """``data.groups``, ``group_size``, ``group_factor`` and ``shared_factors``, unset ones at their defaults."""
    return (
        data.groups or "label",
        2 if data.group_size is None else data.group_size,
        data.group_factor or 0,
        data.shared_factors or 0,
    )


def group_batches(
    split: Split, config: RunConfig, generator: torch.Generator, dynamic_binarize: bool, shard: Shard | None = None
) -> GroupBatches:
    """An epoch of groups as ``[data]`` asks: members sharing a label's value, or pairs sharing factors."""
    groups, size, factor, shared = grouping(config.data)
    if groups == "pairs":

        def rule(labels: Tensor, g: torch.Generator | None) -> Tensor:
            return pairs_sharing_factors(labels.reshape(len(labels), -1), shared, g)[0]

    else:

        def rule(labels: Tensor, g: torch.Generator | None) -> Tensor:
            return groups_by_label(labels.reshape(len(labels), -1)[:, factor], size, g)

    column = None if groups == "pairs" else factor
    return GroupBatches(
        split,
        config.train.batch_size,
        rule,
        generator,
        dynamic_binarize,
        config.data.shift,
        shard=shard,
        label_column=column,
    )


def _option(config: ModelConfig, name: str) -> Any:
    value = config.option(name)
    return GROUP_OPTIONS[name] if value is None else value


def check_grouping(config: RunConfig, shape: DataShape) -> None:
    """Refuse ``[data]`` grouping options the data cannot satisfy, before anything is trained.

    Raises
    ------
    ConfigError, DataError
        An unknown grouping, a group size below 2, a label column or factor count the data lacks.
    """
    groups, size, factor, _ = grouping(config.data)
    if groups not in GROUPINGS:
        raise ConfigError(f"data.groups must be one of {', '.join(GROUPINGS)}, got {groups!r}")
    if not shape.classes:
        raise DataError(
            "model kind 'group_vae' forms groups from labels, but the data has none: give labels or group ids "
            "(labels= from Python, an npz label_key, a csv label_column), or use a labelled source"
        )
    if groups == "label":
        if isinstance(size, bool) or size < 2:
            raise ConfigError(f"data.group_size must be at least 2 (a group of one shares nothing), got {size!r}")
        if not 0 <= factor < len(shape.classes):
            raise DataError(
                f"data.group_factor = {factor} names a label column the data lacks: it has "
                f"{len(shape.classes)} (0..{len(shape.classes) - 1})"
            )
    elif len(shape.classes) < 2:
        raise DataError(
            "data.groups = 'pairs' draws pairs sharing some factors, but the labels have one column: use a "
            "factor-labelled source (e.g. data.name = 'shapes') or data.groups = 'label'"
        )
    _check_label_readers(config.model, groups)


def _check_label_readers(model: ModelConfig, groups: str) -> None:
    """An adversary or a class-conditional critic needs the label a group shares: groups formed by a label."""
    readers = []
    if (model.option("adversary") or 0) > 0:
        readers.append("model.adversary")
    if (model.option("swap_adversary") or 0) > 0 and model.option("swap_condition") == "class":
        readers.append("model.swap_condition = 'class'")
    if readers and groups != "label":
        raise ConfigError(
            f"{' and '.join(readers)} read the label each group shares, but data.groups = {groups!r} pairs "
            "examples on unknown shared factors: set data.groups = 'label' (with data.group_factor), "
            "set model.adversary = 0, or use model.swap_condition = 'group'"
        )


def build_group_vae(config: ModelConfig, shape: DataShape) -> GroupVAE:
    """Build the group VAE ``config`` describes for data of ``shape`` (grouping: :func:`check_grouping`)."""
    s_dim, pooling = _option(config, "s_dim"), _option(config, "pooling")
    if isinstance(s_dim, bool) or not isinstance(s_dim, int) or s_dim < 1:
        raise ConfigError(f"model.s_dim must be a positive integer (the content dimensions), got {s_dim!r}")
    if pooling not in CONTENT_POOLING:
        raise ConfigError(f"model.pooling must be one of {', '.join(CONTENT_POOLING)}, got {pooling!r}")
    content = _option(config, "content_prior") or config.prior
    for name, spec in (("model.prior", config.prior), ("model.content_prior", content)):
        prior = PRIORS.get(normalize_spec(spec, "prior")["name"])
        if prior.guide_family != "normal" or not prior.standalone:
            raise ConfigError(
                f"{name} of model kind 'group_vae' must be a continuous prior that stands alone, not "
                f"{normalize_spec(spec, 'prior')['name']!r}: use 'normal', 'learned_normal', 'laplace' or 'mixture'"
            )
    with local_params():
        likelihood = LIKELIHOODS.build(config.likelihood, event_shape=shape.event_shape)
        nets = NETWORKS.build(
            config.network,
            event_shape=shape.event_shape,
            z_dim=s_dim + config.z_dim,
            params_per_dim=likelihood.params_per_dim,
            encoder_out=2 * (s_dim + config.z_dim),
        )
        critic, swap = _critic(config, shape)
        model = GroupVAEModel(
            PRIORS.build(content, z_dim=s_dim),
            PRIORS.build(config.prior, z_dim=config.z_dim),
            nets.decoder,
            likelihood,
            critic,
            swap,
        )
        weight, adversary = float(_option(config, "adversary")), None
        if weight > 0:
            act = normalize_spec(config.network, "network").get("activation", "relu")
            layers = [nn.Linear(config.z_dim, ADVERSARY_HIDDEN), make_activation(act)]
            adversary = nn.Sequential(*layers, nn.Linear(ADVERSARY_HIDDEN, max(shape.classes)))
        guide = GroupVAEGuide(nets.encoder, s_dim, config.z_dim, pooling, adversary, weight)
        return GroupVAE(model, guide, _option(config, "beta"))


def _critic(config: ModelConfig, shape: DataShape) -> tuple[SwapCritic | None, float]:
    """The swap critic ``model.swap_adversary > 0`` asks for, and its weight (``None, 0``: none).

    A class-conditional critic's one-hot covers the largest label column's values.
    """
    weight, condition = _option(config, "swap_adversary"), _option(config, "swap_condition")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight < float("inf"):
        raise ConfigError(f"model.swap_adversary must be a non-negative number (0: no critic), got {weight!r}")
    if condition not in CRITIC_CONDITIONS:
        raise ConfigError(f"model.swap_condition must be one of {', '.join(CRITIC_CONDITIONS)}, got {condition!r}")
    if weight == 0:
        return None, 0.0
    return SwapCritic(shape.event_shape, condition, max(shape.classes)), float(weight)
