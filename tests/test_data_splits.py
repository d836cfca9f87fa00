"""ArrayDataset validation and the split helpers (class subsets, k per class, tasks)."""

from __future__ import annotations

import pytest
import torch

from acn.data import (
    ArrayDataset,
    make_splits,
    per_class,
    select_classes,
    stratified_split,
    task_splits,
)
from acn.errors import ConfigError, DataError


def toy(n_classes: int = 10, per: int = 6) -> ArrayDataset:
    """Row i has x = [i] so identities survive any subset; labels cycle 0..C-1."""
    n = n_classes * per
    x = torch.arange(n, dtype=torch.float32)[:, None]
    return ArrayDataset(
        x, torch.arange(n) % n_classes, [f"c{i}" for i in range(n_classes)], "vector"
    )


def ids(ds: ArrayDataset) -> set[int]:
    return set(ds.x[:, 0].long().tolist())


def test_dataset_validation():
    x = torch.zeros(4, 3)
    with pytest.raises(DataError, match="4 inputs but 3 labels"):
        ArrayDataset(x, torch.zeros(3, dtype=torch.long), ["a"], "vector", source="here")
    with pytest.raises(DataError, match="here: label 5 out of range for 2 classes"):
        ArrayDataset(x, torch.tensor([0, 1, 5, 0]), ["a", "b"], "vector", source="here")
    with pytest.raises(DataError, match="label -1"):
        ArrayDataset(x, torch.tensor([0, -1, 0, 0]), ["a"], "vector")
    with pytest.raises(DataError, match="image data must be a 4-D"):
        ArrayDataset(x, torch.zeros(4, dtype=torch.long), ["a"], "image")
    with pytest.raises(DataError, match="unknown data kind"):
        ArrayDataset(x, torch.zeros(4, dtype=torch.long), ["a"], "audio")
    mlm = ArrayDataset(torch.zeros(2, 5, dtype=torch.long), torch.full((2,), -1), [], "mlm")
    assert len(mlm.subset([1])) == 1


def test_select_classes_first_c_and_explicit_list():
    ds = toy()
    first = select_classes(ds, 3)
    assert first.classes == ["c0", "c1", "c2"] and sorted(set(first.y.tolist())) == [0, 1, 2]
    assert len(first) == 18 and torch.equal(first.y, (first.x[:, 0].long() % 10))
    picked = select_classes(ds, [7, 2])
    assert picked.classes == ["c7", "c2"]
    orig = picked.x[:, 0].long() % 10
    assert torch.equal(picked.y, torch.where(orig == 7, 0, 1))
    for bad in ([], [1, 1], [10]):
        with pytest.raises(ConfigError):
            select_classes(ds, bad)


def test_per_class_counts_modes_and_seed():
    ds = toy(per=20)
    rnd = per_class(ds, 4, seed=1)
    assert torch.bincount(rnd.y).tolist() == [4] * 10
    assert ids(rnd) == ids(per_class(ds, 4, seed=1)) and ids(rnd) != ids(per_class(ds, 4, seed=2))
    first = per_class(ds, 4, mode="first")
    assert ids(first) == set(range(40))  # rows 0..39 are the first 4 of every class
    with pytest.raises(DataError, match="has 20 samples, fewer than the 21"):
        per_class(ds, 21)
    with pytest.raises(ConfigError):
        per_class(ds, 2, mode="last")


def test_task_splits_disjoint_and_relabelled():
    ds = toy(n_classes=20, per=3)
    tasks = task_splits(ds, 4)
    assert [t.task for t in tasks] == [0, 1, 2, 3]
    seen: set[int] = set()
    for t, part in enumerate(tasks):
        assert part.classes == [f"c{c}" for c in range(5 * t, 5 * t + 5)]
        assert sorted(set(part.y.tolist())) == list(range(5))
        assert ids(part).isdisjoint(seen)
        seen |= ids(part)
    assert seen == ids(ds)
    assert len(task_splits(ds, 3, classes_per_task=2)) == 3
    with pytest.raises(ConfigError, match="do not fit"):
        task_splits(ds, 5, classes_per_task=5)


def test_stratified_split_and_splits_map():
    ds = toy(per=10)
    rest, held = stratified_split(ds, 0.2, seed=3)
    assert torch.bincount(held.y).tolist() == [2] * 10
    assert ids(rest).isdisjoint(ids(held)) and ids(rest) | ids(held) == ids(ds)
    assert ids(held) == ids(stratified_split(ds, 0.2, seed=3)[1])
    with pytest.raises(ConfigError):
        stratified_split(ds, 1.0)
    splits = make_splits("toy", "mem", rest, held).map(lambda d: select_classes(d, 2))
    assert splits.info["num_classes"] == 2 and splits.info["num_test"] == len(splits.test) == 4
