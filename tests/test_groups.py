"""Groups and pairs of examples sharing a factor: who ends up together, fresh draws per epoch, and batches."""

from __future__ import annotations

import pytest
import torch

from pyro_vae.data.groups import GroupBatches, groups_by_label, pairs_sharing_factors
from pyro_vae.data.prepare import Split
from pyro_vae.data.shapes import shapes
from pyro_vae.errors import DataError


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_groups_by_label_share_the_label_and_use_each_row_at_most_once():
    ids = torch.tensor([0] * 7 + [1] * 4 + [2] * 1 + [-1] * 5)
    table = groups_by_label(ids, 3, _gen())
    # value 0: 7 rows -> 2 groups (1 left over); value 1: 4 -> 1 group; value 2: 1 -> none; -1: in no group
    assert table.shape == (3, 3)
    assert (ids[table] == ids[table[:, :1]]).all()
    assert len(table.flatten().unique()) == 9
    assert (ids[table] >= 0).all()


def test_groups_are_drawn_afresh_each_epoch_and_the_same_for_the_same_seed():
    ids = torch.arange(60) % 3
    first, again = groups_by_label(ids, 4, _gen(1)), groups_by_label(ids, 4, _gen(1))
    assert torch.equal(first, again)
    generator = _gen(1)
    epoch1, epoch2 = groups_by_label(ids, 4, generator), groups_by_label(ids, 4, generator)
    assert not torch.equal(epoch1, epoch2)


@pytest.mark.parametrize(
    ("ids", "size", "message"),
    [
        (torch.tensor([0, 1, 2, 3]), 2, "no group id has 2 examples"),
        (torch.tensor([-1, -1, -1]), 1, "no group id has 1 examples"),
        (torch.tensor([0, 0]), 0, "data.group_size must be a positive integer, got 0"),
        (torch.tensor([0, 0]), 1.5, "data.group_size must be a positive integer"),
    ],
    ids=["every-group-too-small", "no-ids-at-all", "size-zero", "fractional-size"],
)
def test_bad_groups_are_one_clear_error(ids, size, message):
    with pytest.raises(DataError, match=message):
        groups_by_label(ids, size, _gen())


@pytest.mark.parametrize("shared", [1, 2, 4])
def test_pairs_share_at_least_the_kept_factors(shared):
    factors = shapes(image_size=8, n=0, scales=2, orientations=2, positions=3).labels
    pairs, kept = pairs_sharing_factors(factors, shared, _gen())
    assert pairs.shape == (len(factors), 2) and (kept.sum(-1) == shared).all()
    first, second = factors[pairs[:, 0]], factors[pairs[:, 1]]
    assert ((first == second) | ~kept).all()
    # on the full grid the other factors are free: most pairs differ somewhere outside the kept ones
    assert ((first != second) & ~kept).any(-1).float().mean() > 0.5


def test_random_k_is_uniform_over_1_to_k_minus_1():
    factors = shapes(image_size=8, n=2000, seed=1).labels
    _, kept = pairs_sharing_factors(factors, 0, _gen())
    counts = torch.bincount(kept.sum(-1), minlength=5)
    assert counts[0] == 0 and counts[5:].sum() == 0
    assert (counts[1:5].float() / len(factors) - 0.25).abs().max() < 0.04


def test_every_first_example_appears_once():
    factors = shapes(image_size=8, n=300, seed=2).labels
    pairs, _ = pairs_sharing_factors(factors, 2, _gen())
    assert torch.equal(pairs[:, 0].sort().values, torch.arange(300))


@pytest.mark.parametrize(
    ("factors", "shared", "message"),
    [
        (torch.zeros(5, 1, dtype=torch.int64), 0, "need at least 2 factors"),
        (torch.zeros(5, 3, dtype=torch.int64), 3, r"data.shared_factors must be 0 \(random\) or in 1..2, got 3"),
        (torch.zeros(5, 3, dtype=torch.int64), -1, "data.shared_factors must be"),
    ],
    ids=["one-factor", "all-factors-shared", "negative"],
)
def test_bad_pairs_are_one_clear_error(factors, shared, message):
    with pytest.raises(DataError, match=message):
        pairs_sharing_factors(factors, shared, _gen())


def test_group_batches_stack_members_and_redraw_each_epoch():
    x = torch.arange(40, dtype=torch.float32).view(40, 1, 1, 1).expand(40, 1, 2, 2).contiguous()
    split = Split(x, torch.arange(40) % 4)
    batches = GroupBatches(split, 3, lambda labels, g: groups_by_label(labels, 5, g), _gen())
    assert len(batches) == 3  # 8 groups of 5, 3 per batch
    epoch = list(batches)
    assert [tuple(b[0].shape) for b in epoch] == [(3, 5, 1, 2, 2)] * 2 + [(2, 5, 1, 2, 2)]
    for xb, yb in epoch:
        assert (yb == yb[:, :1]).all()  # members share their label
        assert torch.equal(xb[:, :, 0, 0, 0].long() % 4, yb)  # each member's pixels are its own row's
    again = list(batches)
    assert not torch.equal(torch.cat([b[0] for b in epoch]), torch.cat([b[0] for b in again]))


def test_asking_the_length_during_an_epoch_draws_no_new_groups():
    split = Split(torch.arange(40, dtype=torch.float32)[:, None], torch.arange(40) % 4)
    generator = _gen()
    batches = GroupBatches(split, 3, lambda labels, g: groups_by_label(labels, 5, g), generator)
    drawn = iter(batches)
    first = next(drawn)
    state = generator.get_state()
    assert len(batches) == 3 and torch.equal(generator.get_state(), state)  # the epoch's own table
    assert len([first, *drawn]) == 3


def test_group_batches_need_labels():
    with pytest.raises(DataError, match="groups are formed from labels, but this data has none"):
        GroupBatches(Split(torch.zeros(4, 2), None), 2, lambda labels, g: groups_by_label(labels, 2, g))


def test_a_pair_is_another_example_whenever_one_shares_the_kept_factors():
    factors = shapes(image_size=8, n=2000, seed=3).labels
    pairs, kept = pairs_sharing_factors(factors, 1, _gen())
    assert (pairs[:, 0] != pairs[:, 1]).all()  # sharing one factor, a partner always exists here
    pairs, kept = pairs_sharing_factors(factors, 4, _gen())
    alone = pairs[:, 0] == pairs[:, 1]
    for row, mask in zip(pairs[alone, 0], kept[alone], strict=True):
        same = (factors[:, mask] == factors[row, mask]).all(-1)
        assert same.sum() == 1  # paired with itself only when no other example shares the kept values
