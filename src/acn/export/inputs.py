"""The inputs an export is checked on, and the cutoff depth it can cut at.

A run's own test split when the model is given as its run directory (or ``--data`` names data,
or the cutoff must be scored), prepared as training does; otherwise example inputs of the shape
the model was trained on (its ``pretrained_cfg`` input shape: an MLP trained on images takes
images, not the flat vectors it reshapes them to), text with padding in every other row so the
attention mask is exercised.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

from ..errors import ConfigError
from ..evaluation import cutoff_depth, evaluate_per_depth
from ..evaluation.cutoff import loss_cutoff_depth
from ..models.base import StackModel
from ..runs.evaldata import EvalData, eval_data
from ..runs.run import Run
from .graph import is_text


def run_data(
    model: StackModel, source: Path, data: str | None, needed: bool = False
) -> EvalData | None:
    """The test data of the model at ``source`` (see :func:`acn.runs.eval_data`) when it is
    given as a run directory, ``data`` names data or the data is ``needed``; else None."""
    if data is None and not needed and not (source.is_dir() and Run(source).exists):
        return None
    return eval_data(model, source, data)


def input_shape(model: StackModel) -> tuple[int, ...]:
    """The shape of one input as the model was trained on it: the ``pretrained_cfg`` input
    shape when it holds the same values as the model's own example (an MLP on images), else
    the example's."""
    example = tuple(model.example_input(1).shape[1:])
    recorded = model.pretrained_cfg.get("input_shape")
    if (
        isinstance(recorded, list)
        and all(isinstance(n, int) and n > 0 for n in recorded)
        and math.prod(recorded) == math.prod(example)
        and model.example_input(1).is_floating_point()
    ):
        return tuple(recorded)
    return example


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
    return x.reshape(n, *input_shape(model))


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
