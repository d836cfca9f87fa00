"""Deterministic dataset surgery for the paper's experiments.

- class subsets (task difficulty, paper §5.4: the first C CIFAR-10 classes),
- k samples per class (low-data regime, §5.7),
- disjoint class groups per task (Split CIFAR-100 continual learning, §5.8),
- stratified validation splits.

All randomness uses a local torch.Generator seeded from the argument, never global RNG, and
returned indices are sorted so the kept rows stay in their original order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from ..errors import ConfigError, DataError
from .dataset import ArrayDataset


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _sorted_cat(parts: list[torch.Tensor]) -> torch.Tensor:
    if not parts:
        return torch.empty(0, dtype=torch.long)
    return torch.sort(torch.cat(parts)).values


def stratified_indices(
    y: torch.Tensor, fraction: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split row indices so each label value keeps round(fraction * count) rows held out.

    Returns (rest, held), each sorted. Unlabelled data (all -1) is one group, i.e. a plain
    random split.
    """
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"split fraction must be between 0 and 1, got {fraction}")
    gen = _generator(seed)
    rest, held = [], []
    for label in torch.unique(y).tolist():  # sorted, so the draw order is fixed
        idx = torch.nonzero(y == label).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_held = int(fraction * len(idx) + 0.5)  # round half up, unlike round()
        held.append(idx[:n_held])
        rest.append(idx[n_held:])
    return _sorted_cat(rest), _sorted_cat(held)


def stratified_split(
    ds: ArrayDataset, fraction: float, seed: int = 0
) -> tuple[ArrayDataset, ArrayDataset]:
    """(rest, held_out) with `fraction` of every class held out, e.g. for a validation set."""
    rest, held = stratified_indices(ds.y, fraction, seed)
    return ds.subset(rest), ds.subset(held)


def select_classes(ds: ArrayDataset, classes: int | Sequence[int]) -> ArrayDataset:
    """Keep only some classes and relabel them 0..C-1.

    classes: an int C keeps the first C classes in label order (as the official code's
    `get_filtered_dataloaders`); a list keeps those ids, relabelled in the order given.
    """
    keep = list(range(classes)) if isinstance(classes, int) else [int(c) for c in classes]
    if not keep:
        raise ConfigError("select_classes needs at least one class")
    if len(set(keep)) != len(keep):
        raise ConfigError(f"duplicate class ids in {keep}")
    bad = [c for c in keep if not 0 <= c < ds.num_classes]
    if bad:
        raise ConfigError(f"class ids {bad} out of range for {ds.num_classes} classes")
    lut = torch.full((ds.num_classes,), -1, dtype=torch.long)
    lut[torch.tensor(keep)] = torch.arange(len(keep))
    mask = lut[ds.y] >= 0
    return replace(
        ds,
        x=ds.x[mask],
        y=lut[ds.y[mask]],
        classes=[ds.classes[c] for c in keep],
    )


def per_class(ds: ArrayDataset, k: int, seed: int = 0, mode: str = "random") -> ArrayDataset:
    """k samples of every class (low-data regime).

    mode "random" draws them with `seed` (the paper's text); "first" takes the first k in
    dataset order (the paper's official code).
    """
    if k <= 0:
        raise ConfigError(f"samples per class must be positive, got {k}")
    if mode not in ("random", "first"):
        raise ConfigError(f"per_class mode must be 'random' or 'first', got {mode!r}")
    gen = _generator(seed)
    chosen = []
    for label in range(ds.num_classes):
        idx = torch.nonzero(ds.y == label).flatten()
        if len(idx) < k:
            raise DataError(
                f"{ds.source or 'dataset'}: class {ds.classes[label]!r} has {len(idx)} samples, "
                f"fewer than the {k} requested"
            )
        if mode == "random":
            idx = idx[torch.randperm(len(idx), generator=gen)]
        chosen.append(idx[:k])
    return ds.subset(_sorted_cat(chosen))


def task_splits(
    ds: ArrayDataset, n_tasks: int, classes_per_task: int | None = None
) -> list[ArrayDataset]:
    """Task-incremental split: task t holds classes [t*c, (t+1)*c) relabelled 0..c-1.

    c defaults to num_classes // n_tasks (Split CIFAR-100: 20 tasks of 5 classes). Apply it to
    the train and the test split alike; each result records its task id in `.task`.
    """
    if n_tasks <= 0:
        raise ConfigError(f"number of tasks must be positive, got {n_tasks}")
    c = classes_per_task if classes_per_task is not None else ds.num_classes // n_tasks
    if c <= 0 or n_tasks * c > ds.num_classes:
        raise ConfigError(f"{n_tasks} tasks x {c} classes do not fit in {ds.num_classes} classes")
    return [replace(select_classes(ds, range(t * c, (t + 1) * c)), task=t) for t in range(n_tasks)]
