"""Validation and test data for early exit: the run's test split, cut in two.

Thresholds are calibrated on one half and reported on the other. The halves are a stratified
split of the run's TEST split with a fixed seed (the training split may have been seen by the
model; the test split never steers training), so the same run always gets the same halves.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ..data import stratified_indices
from ..errors import DataError
from ..models.base import StackModel
from ..runs.evaldata import eval_data
from .evaluate import Split


def split_validation(x: Tensor, y: Tensor, seed: int = 0) -> tuple[Split, Split]:
    """(validation, test): half of every class each, chosen with ``seed``."""
    if len(y) < 2:
        raise DataError(
            f"need at least 2 test samples to split off a validation half, got {len(y)}"
        )
    test_idx, val_idx = stratified_indices(y, 0.5, seed)
    return Split(x[val_idx], y[val_idx]), Split(x[test_idx], y[test_idx])


def load_exit_splits(
    model: StackModel,
    model_path: str | Path,
    data: str | None = None,
    batch_size: int = 500,
    seed: int = 0,
) -> tuple[Split, Split, str]:
    """The prepared validation and test halves for a trained run, plus a one-line description.

    ``data`` (a dataset spec) replaces the run's dataset, as in ``acn compress``.
    """
    loaded = eval_data(model, model_path, data)
    xs, ys = zip(*loaded.test_batches(batch_size, torch.device("cpu")))
    val, test = split_validation(torch.cat(xs), torch.cat(ys), seed)
    halves = f"test halves: {len(val)} validation / {len(test)} test"
    described = f"{loaded.splits.describe()}; {halves}"
    return val, test, described
