"""Batches: deterministic epochs, resume by skip, and the DDP sharding contract."""

from __future__ import annotations

import pytest
import torch

from acn.data import ArrayDataset, Batches
from acn.errors import ConfigError


def toy(n: int = 103) -> ArrayDataset:
    return ArrayDataset(
        torch.arange(n, dtype=torch.float32)[:, None],
        torch.arange(n) % 3,
        ["a", "b", "c"],
        "vector",
    )


def rows(batches) -> list[list[int]]:
    return [x[:, 0].long().tolist() for x, _ in batches]


def epoch(loader: Batches, e: int, skip: int = 0) -> list[list[int]]:
    loader.set_epoch(e)
    loader.skip(skip)
    return rows(loader)


def test_same_seed_and_epoch_same_order():
    ds = toy()
    a, b = Batches(ds, 10, seed=1), Batches(ds, 10, seed=1)
    assert epoch(a, 3) == epoch(b, 3)
    assert epoch(a, 3) != epoch(a, 4) and epoch(a, 3) != epoch(Batches(ds, 10, seed=2), 3)
    torch.manual_seed(0)
    first = epoch(a, 5)
    torch.manual_seed(1)  # global RNG must not matter
    assert epoch(a, 5) == first
    flat = sorted(i for batch in first for i in batch)
    assert flat == list(range(103)) and len(first) == len(a) == 11
    x, y = next(iter(Batches(ds, 10)))
    assert torch.equal(y, x[:, 0].long() % 3)  # rows and labels stay paired


def test_plain_iteration_advances_epoch():
    loader = Batches(toy(), 10, seed=0)
    e0, e1 = rows(loader), rows(loader)
    assert e0 == epoch(Batches(toy(), 10, seed=0), 0) and e1 == epoch(Batches(toy(), 10, seed=0), 1)


def test_skip_equals_dropping_first_batches():
    loader = Batches(toy(), 8, seed=4)
    full = epoch(loader, 2)
    assert epoch(loader, 2, skip=5) == full[5:]
    assert epoch(loader, 2, skip=len(loader)) == []
    assert epoch(loader, 2) == full  # skip applies to one iteration only


@pytest.mark.parametrize(("n", "world"), [(103, 2), (103, 4), (96, 3), (9, 4), (98, 4)])
def test_ranks_concatenate_to_global_batch(n, world):
    ds, per_rank = toy(n), 4
    single = epoch(Batches(ds, per_rank * world, seed=7), 1)
    shards = [
        epoch(Batches(ds, per_rank, seed=7, rank=r, world_size=world), 1) for r in range(world)
    ]
    assert all(len(s) == len(shards[0]) for s in shards)  # every rank does the same steps
    for b, global_batch in enumerate(single):
        if len(global_batch) < world:  # too small to give every rank a row: dropped
            assert b == len(single) - 1 and len(shards[0]) == b
            continue
        parts = [s[b] for s in shards]
        assert sum(parts, []) == global_batch
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_drop_last_and_no_shuffle():
    ds = toy(25)
    assert len(Batches(ds, 10, drop_last=True)) == 2 and len(Batches(ds, 10)) == 3
    assert rows(Batches(ds, 10, shuffle=False)) == [
        list(range(10)),
        list(range(10, 20)),
        list(range(20, 25)),
    ]
    assert [len(b) for b in rows(Batches(ds, 5, drop_last=True, rank=1, world_size=2))] == [5, 5]


def test_bad_arguments():
    for kwargs in ({"batch_size": 0}, {"batch_size": 4, "rank": 2, "world_size": 2}):
        with pytest.raises(ConfigError):
            Batches(toy(), **kwargs)
    with pytest.raises(ConfigError):
        Batches(toy(), 4).skip(-1)
