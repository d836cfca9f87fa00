"""The inputs an export is checked on, and the cutoff depth it can cut at.

A run's own test split when the model belongs to a run (or ``--data`` names one), prepared as
training does; otherwise the model's ``example_input`` (text: with padding in every other row, so
the attention mask is exercised).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ..errors import ConfigError
from ..evaluation import cutoff_depth, evaluate_per_depth
from ..evaluation.cutoff import loss_cutoff_depth
from ..models.base import StackModel
from ..runs.evaldata import EvalData, eval_data, find_run_config
from .graph import is_text


def run_data(model: StackModel, source: Path, data: str | None) -> EvalData | None:
    """The test data of the run ``source`` belongs to (or ``data``), or None for a bare model."""
    if data is None and find_run_config(source) is None:
        return None
    return eval_data(model, source, data)


def test_inputs(model: StackModel, data: EvalData | None, n: int, seed: int = 0) -> Tensor:
    """``n`` inputs to compare the exported graph with eager PyTorch on."""
    if n < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {n}")
    if data is not None:
        return next(iter(data.batches(n)))[0]
    x = model.example_input(n, generator=torch.Generator().manual_seed(seed))
    if is_text(model) and getattr(model.config, "pad_id", None) is not None:
        lengths = torch.arange(n) % max(1, x.shape[1] // 2)  # 0, 1, 2 ... pad tokens at the end
        pad = torch.arange(x.shape[1]) >= x.shape[1] - lengths[:, None]
        x = x.masked_fill(pad & (torch.arange(n) % 2 == 1)[:, None], model.config.pad_id)  # type: ignore[attr-defined]
    return x


def cutoff(model: StackModel, data: EvalData | None, tolerance: float) -> int:
    """The smallest depth within ``tolerance`` accuracy points of the full model on the test
    split; for language models, within ``tolerance`` nats/token of the best depth's loss."""
    if data is None:
        raise ConfigError("--cutoff needs test data: give a run directory or --data SPEC")
    if tolerance < 0:
        raise ConfigError(f"--tolerance must be >= 0, got {tolerance}")
    evaluation = evaluate_per_depth(model, data.batches(), "cpu")
    if data.kind == "lm":
        return loss_cutoff_depth(evaluation.loss_per_depth, tolerance)
    return cutoff_depth(evaluation.accuracy, tolerance)
