"""Groups and pairs of examples that share a factor of variation, drawn afresh each epoch.

Two ways to form them, each giving a table of row indices ``(M, G)``, one group per row:

- :func:`groups_by_label`: members share the value of one label column (MNIST
  by digit, ``shapes`` by a chosen factor, or explicit group ids with ``-1``
  for "no group"); every value's rows are shuffled and cut into groups of ``G``.
- :func:`pairs_sharing_factors`: pairs drawn as Locatello et al. (2020),
  "Weakly-supervised disentanglement without compromises": a first example,
  then ``k`` of its factors kept (``k`` fixed, or uniform in ``1..K-1``) and
  the second example drawn among those that share the kept factors' values.

:class:`GroupBatches` turns such a table into batches ``(B, G, *event_shape)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from pyro_vae.data.loader import Shard, draw_rows, shard_batches, sharded_count
from pyro_vae.data.prepare import Split
from pyro_vae.errors import DataError

__all__ = ["GroupBatches", "groups_by_label", "pairs_sharing_factors"]

#: a rule that draws this epoch's groups of a split: ``(labels, generator) -> (M, G)`` row indices
GroupRule = Callable[[Tensor, torch.Generator | None], Tensor]


def _shuffled(n: int, generator: torch.Generator | None) -> Tensor:
    """A permutation of ``n`` drawn on the generator's device (host memory: it indexes tensors anywhere)."""
    if generator is None:
        return torch.arange(n)
    return torch.randperm(n, generator=generator, device=generator.device).cpu()


def groups_by_label(ids: Tensor, size: int, generator: torch.Generator | None = None) -> Tensor:
    """Groups of ``size`` rows sharing a value of ``ids`` ``(N,)`` (``-1``: in no group), ``(M, size)``.

    Rows are shuffled within each value and the values' groups shuffled
    together; a value's leftover rows (fewer than ``size``) wait for another
    epoch's draw.

    Raises
    ------
    DataError
        If ``size < 1`` or no value has ``size`` rows.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise DataError(f"data.group_size must be a positive integer, got {size!r}")
    ids = ids.reshape(-1)
    groups = []
    for value in torch.unique(ids[ids >= 0]):
        rows = torch.nonzero(ids == value).flatten()
        rows = rows[_shuffled(len(rows), generator)]
        usable = len(rows) // size * size
        groups.append(rows[:usable].view(-1, size))
    table = torch.cat(groups) if groups else torch.empty(0, size, dtype=torch.int64)
    if len(table) == 0:
        raise DataError(
            f"no group id has {size} examples (data.group_size = {size}): lower data.group_size or "
            "group by a label with more examples per value"
        )
    return table[_shuffled(len(table), generator)]


def _keys(factors: Tensor, kept: Tensor) -> Tensor:
    """One integer per row naming its values of the ``kept`` factors (mixed radix), ``(N,)``."""
    radix = factors.max(0).values + 1
    key = torch.zeros(len(factors), dtype=torch.int64)
    for k in torch.nonzero(kept).flatten().tolist():
        key = key * radix[k] + factors[:, k]
    return key


def pairs_sharing_factors(
    factors: Tensor, shared: int = 0, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """One pair per row, the second example sharing ``k`` factor values with the first (Locatello et al. 2020).

    Parameters
    ----------
    factors
        Factor value indices ``(N, K)``, ``K >= 2``.
    shared
        ``k``, the number of factors the pair shares; 0 draws ``k`` uniformly
        in ``1..K-1`` for every pair.
    generator
        Draws the first examples' order, ``k``, which factors, and the partners.

    Returns
    -------
    tuple of Tensor
        Row indices ``(N, 2)`` and which factors were kept ``(N, K)`` (bool); the
        partner shares at least those (and may, by chance, share more). The
        partner is another row whenever one shares the kept values.
    """
    n, k_all = factors.shape
    if k_all < 2:
        raise DataError(f"pairs sharing factors need at least 2 factors per example, the labels have {k_all}")
    if isinstance(shared, bool) or not isinstance(shared, int) or not 0 <= shared < k_all:
        raise DataError(f"data.shared_factors must be 0 (random) or in 1..{k_all - 1}, got {shared!r}")
    first = _shuffled(n, generator)
    counts = torch.full((n,), shared) if shared else torch.randint(1, k_all, (n,), generator=generator)
    ranks = torch.rand(n, k_all, generator=generator).argsort(-1).argsort(-1)
    kept = ranks < counts[:, None]
    second = torch.empty(n, dtype=torch.int64)
    for mask in torch.unique(kept, dim=0):
        queries = torch.nonzero((kept == mask).all(-1)).flatten()
        second[queries] = _partners(factors, mask, first[queries], generator)
    return torch.stack([first, second], dim=-1), kept


def _partners(factors: Tensor, kept: Tensor, rows: Tensor, generator: torch.Generator | None) -> Tensor:
    """For each of ``rows``, another row with the same values of the ``kept`` factors, drawn uniformly.

    The row itself is left out (a pair of one image twice shares everything and teaches nothing);
    a row with no other such row is paired with itself.
    """
    keys = _keys(factors, kept)
    order = keys.argsort(stable=True)
    position = torch.empty_like(order)
    position[order] = torch.arange(len(order))
    sorted_keys = keys[order]
    low = torch.searchsorted(sorted_keys, keys[rows])
    high = torch.searchsorted(sorted_keys, keys[rows], right=True)
    others = high - low - 1
    pick = low + (torch.rand(len(rows), generator=generator) * others.clamp(min=1)).long()
    pick = torch.where(pick >= position[rows], pick + 1, pick)  # step over the row itself
    return torch.where(others > 0, order[pick.clamp(max=len(order) - 1)], rows)


class GroupBatches:
    """An epoch of groups, ``batch_size`` groups per batch: ``x`` ``(B, G, *event_shape)``, labels ``(B, G, ...)``.

    Parameters
    ----------
    split
        The examples (their labels feed ``rule``).
    batch_size
        Groups per batch; the last batch holds the remainder.
    rule
        Draws the epoch's groups from the split's labels (see :func:`groups_by_label`).
    generator
        Shuffles and draws the binarization.
    dynamic_binarize
        Resample binary pixels from grey levels.
    shift
        Translate each image by up to this many pixels (augmentation).
    label_column
        Yield this column of the labels, ``(B, G)`` (the label a group shares), instead of all of them.
    shard
        This process's part of every global batch of ``shard.world * batch_size`` groups when
        several processes train together (see :class:`~pyro_vae.data.loader.Shard`).
    """

    def __init__(
        self,
        split: Split,
        batch_size: int,
        rule: GroupRule,
        generator: torch.Generator | None = None,
        dynamic_binarize: bool = False,
        shift: int = 0,
        label_column: int | None = None,
        shard: Shard | None = None,
    ) -> None:
        if split.labels is None:
            raise DataError("groups are formed from labels, but this data has none: give labels or group ids")
        self.split, self.batch_size, self.rule, self.generator = split, batch_size, rule, generator
        self.dynamic, self.shift, self.shard = dynamic_binarize, shift, shard
        self._global_size = batch_size * (1 if shard is None else shard.world)
        labels = split.labels
        self.labels = labels if label_column is None else labels.reshape(len(labels), -1)[:, label_column]
        self._table: Tensor | None = None
        self._iterated = False

    def _draw_table(self) -> Tensor:
        """The epoch's groups, drawn on the host (from a generator seeded by the epoch's, when that is on a device)."""
        if self._table is None:
            generator = self.generator
            if generator is not None and generator.device.type != "cpu":
                seed = torch.randint(2**62, (1,), generator=generator, device=generator.device).item()
                generator = torch.Generator().manual_seed(seed)
            self._table = self.rule(self.split.labels.cpu(), generator)
        return self._table

    def __len__(self) -> int:
        return sharded_count(len(self._draw_table()), self._global_size, self.shard)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self._iterated:  # another epoch: new groups (the length asked during an epoch stays that epoch's)
            self._table = None
        table, self._iterated = self._draw_table(), True
        noise = self.generator if self.shard is None else self.shard.noise
        for rows in shard_batches(table, self._global_size, self.shard):
            x = draw_rows(self.split, rows.flatten(), noise, self.dynamic, self.shift)
            yield x.view(*rows.shape, *x.shape[1:]), self.labels[rows]
