"""``RUN/summary.json``: the end state of a run, with what its numbers depend on."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from ..evaluation.cutoff import LM_TOLERANCE
from ..models.base import StackModel
from ..runs.config import TrainConfig
from ..utils import machine

CUTOFF_TOLERANCE = 0.5  # accuracy points: the cutoff rule logged at every evaluation


def run_summary(
    model: StackModel,
    cfg: TrainConfig,
    last: dict[str, Any],
    *,
    run_dir: Path,
    data: str,
    data_info: dict[str, Any],
    world_size: int,
    amp_dtype: torch.dtype | None,
    device: torch.device,
    train_time_s: float,
) -> dict[str, Any]:
    """Summary of a finished run from its last evaluation record ``last``; ``data`` describes
    the data in one line (``data_info`` is its info dict), ``train_time_s`` is training +
    evaluation, not setup."""
    cutoff = last["cutoff_depth"]
    lm = data_info["kind"] == "lm"
    out = {
        "run_dir": str(run_dir),
        "model": model.config.name,
        "connectivity": model.config.connectivity,
        "depth": model.depth,
        "params": model.num_params(),
        "data": data,
        "epochs": last["epoch"],
        "steps": last["step"],
        "seed": cfg.seed,
        "accuracy": last["accuracy"],
        "accuracy_per_depth": last["accuracy_per_depth"],
        "test_loss": last["test_loss"],
        "loss_per_depth": last.get("loss_per_depth"),
        "cutoff_depth": cutoff,
        # language models: nats/token of the best depth's loss; classifiers: accuracy points
        "cutoff_tolerance": LM_TOLERANCE if lm else CUTOFF_TOLERANCE,
        "cut_model_params": model.truncate(cutoff).num_params(),
        "train_time_s": round(train_time_s, 2),
        "world_size": world_size,
        "amp": str(amp_dtype).removeprefix("torch.") if amp_dtype else "off",
        "machine": machine(device),
    }
    if lm:  # the test split of language-model text is its held-out validation text
        info = data_info
        out["val_loss"] = last["test_loss"]
        out["perplexity_per_depth"] = [math.exp(v) for v in last["loss_per_depth"]]
        out["tokenizer"] = info["tokenizer_kind"]
        out["split"] = info["split"]
    return out
