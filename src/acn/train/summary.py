"""``RUN/summary.json``: the end state of a run, with what its numbers depend on."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..evaluation.cutoff import LM_TOLERANCE
from ..utils import machine

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

CUTOFF_TOLERANCE = 0.5  # accuracy points: the cutoff rule logged at every evaluation


def run_summary(trainer: Trainer, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Summary of a finished run from its last evaluation record (empty off rank 0)."""
    if not trainer.ctx.is_main or not records:
        return {}
    last = records[-1]
    model, cfg = trainer.model, trainer.cfg
    cutoff = last["cutoff_depth"]
    lm = trainer.data.kind == "lm"
    out = {
        "run_dir": str(trainer.run_dir),
        "model": model.config.name,
        "connectivity": model.config.connectivity,
        "depth": model.depth,
        "params": model.num_params(),
        "data": trainer.data.splits.describe(),
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
        "train_time_s": round(trainer.elapsed(), 2),  # training + evaluation, not setup
        "world_size": trainer.ctx.world_size,
        "amp": str(trainer.amp_dtype).removeprefix("torch.") if trainer.amp_dtype else "off",
        "machine": machine(trainer.device),
    }
    if lm:  # the test split of language-model text is its held-out validation text
        info = trainer.data.info
        out["val_loss"] = last["test_loss"]
        out["perplexity_per_depth"] = [math.exp(v) for v in last["loss_per_depth"]]
        out["tokenizer"] = info["tokenizer_kind"]
        out["split"] = info["split"]
    return out
