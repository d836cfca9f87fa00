"""``acn train --auto-cut``: drop the top blocks an ACN stopped using, while it trains.

An ACN moves its task information into its early blocks as it learns; every evaluation already
scores every depth in one pass. The monitor here turns that into a training-time saving:

1. A validation split is carved from the training data (``auto_cut.val_fraction`` of every
   class, drawn with the run's seed; the test split is never looked at) and removed from training.
2. After each evaluation the monitor scores every depth on it and takes the cutoff: the smallest
   depth within ``tolerance`` points of the best depth, with a bootstrap 95% interval
   (:func:`acn.evaluation.cutoff.bootstrap_cutoff`).
3. When the interval's upper end has stayed below ``depth - margin`` for ``patience``
   evaluations in a row (and ``min_epoch`` epochs are done, and training is not over), the blocks
   above ``cutoff + margin`` are removed for good (the largest cutoff of those evaluations, so
   the cut is no deeper than any of them asked for). The kept blocks
   are the same parameter objects, so their AdamW moments and step counts carry over; the LR
   schedule continues where it was. Cuts may repeat.

Under torchrun the validation pass is sharded and its per-sample results all-reduced; rank 0
decides and broadcasts the new depth, so every process cuts at the same step, and DDP is rebuilt
around the cut model. The checkpoint records the current depth and the monitor's state, so a
resumed run cuts its freshly built model to that depth before loading the weights and retraces
the uninterrupted run exactly. The model file describes the cut model (its config has the new
depth), so ``acn.load``, ``acn probe`` and ``acn compress`` see an ordinary, shallower model.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ..data import ArrayDataset, Batches, DataSplits, stratified_split
from ..errors import ConfigError
from ..evaluation import evaluate_per_depth
from ..evaluation.cutoff import CutoffInterval, bootstrap_cutoff
from ..models.base import StackModel
from ..runs.config import TrainConfig
from ..runs.inputs import TrainData
from . import distributed as dist
from .grad_norms import GradNorms
from .optim import build_optimizer

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

STATE_KEY = "auto_cut"


def split_validation(cfg: TrainConfig, data: TrainData) -> tuple[TrainData, ArrayDataset | None]:
    """(data whose training split lost the monitor's validation rows, those rows); unchanged
    data and None when auto-cut is off. Stratified and a pure function of the seed."""
    if not cfg.auto_cut.enabled:
        return data, None
    if data.kind in ("mlm", "lm"):
        raise ConfigError(
            "auto_cut needs labelled data (it cuts by accuracy); language-model text has none"
        )
    train, val = stratified_split(data.splits.train, cfg.auto_cut.val_fraction, seed=cfg.seed)
    if len(val) == 0 or len(train) == 0:
        raise ConfigError(
            f"auto_cut.val_fraction={cfg.auto_cut.val_fraction} of {len(data.splits.train)} "
            "training samples leaves an empty training or validation split"
        )
    info = {**data.info, "num_train": len(train), "num_val": len(val)}
    return dataclasses.replace(data, splits=DataSplits(train, data.splits.test, info)), val


def cut_in_place(model: StackModel, depth: int) -> None:
    """Keep the first ``depth`` blocks of ``model`` (the same module and parameter objects) and
    make its config say so; exit branches above ``depth`` go with their blocks."""
    if not 0 <= depth <= model.depth:
        raise ConfigError(f"cannot cut a depth-{model.depth} model to {depth} blocks")
    stack = model.stack
    stack.blocks = stack.blocks[:depth]
    for extra in ("dwa", "proj"):  # per-block modules of the denseformer / densenet wirings
        if getattr(stack, extra, None) is not None:
            setattr(stack, extra, getattr(stack, extra)[:depth])
    kept = tuple(d for d in model.config.exit_branches if d <= depth)
    for d in model.config.exit_branches:
        if d > depth:
            del model.branches[str(d)]
    model.config = dataclasses.replace(model.config, depth=depth, exit_branches=kept)


def carry_optimizer(old: torch.optim.Optimizer, model: StackModel, cfg: TrainConfig):
    """A fresh optimizer over ``model``'s parameters holding ``old``'s state (AdamW moments and
    step counts) for every parameter that survived; same hyper-parameters and grouping."""
    new = build_optimizer(model, cfg.optim)
    for group, old_group in zip(new.param_groups, old.param_groups):
        group["lr"] = old_group["lr"]
        for p in group["params"]:
            if p in old.state:
                new.state[p] = old.state[p]
    return new


class AutoCut:
    """The cutoff monitor and the cut rule of one run (see the module docstring)."""

    def __init__(self, trainer: Trainer, val: ArrayDataset) -> None:
        self.trainer, self.val = trainer, val
        self.opts = trainer.cfg.auto_cut
        self.start_depth = trainer.model.depth
        if self.opts.margin >= self.start_depth:
            raise ConfigError(
                f"auto_cut.margin ({self.opts.margin}) must be smaller than the model depth "
                f"({self.start_depth})"
            )
        self.clear: list[int] = []  # cutoffs of the current run of clear evaluations
        self.cuts: list[dict[str, Any]] = []

    # -- the monitor ----------------------------------------------------------------------------
    def val_correct(self) -> Tensor:
        """Per-sample correctness [L+1, N_val] at every depth; sharded, then all-reduced."""
        t, n = self.trainer, len(self.val)
        lo, hi = dist.shard_bounds(n, t.ctx.rank, t.ctx.world_size)
        full = torch.zeros(t.model.depth + 1, n, dtype=torch.float32, device=t.device)
        if hi > lo:
            rows = self.val.subset(torch.arange(lo, hi))
            num_classes = t.model.config.num_classes
            batches = (
                t.data.prepare(x.to(t.device), y.to(t.device), False, None, num_classes)
                for x, y in Batches(rows, t.cfg.eval_batch_size, shuffle=False)
            )
            ev = evaluate_per_depth(t.model, batches, t.device)
            full[:, lo:hi] = ev.correct.to(full)
        return dist.all_reduce_sum(full, t.ctx).cpu() > 0.5

    def interval(self, correct: Tensor) -> CutoffInterval:
        o = self.opts
        return bootstrap_cutoff(
            correct, o.tolerance, o.bootstrap, seed=self.trainer.cfg.seed, reference="best"
        )

    def decide(self, iv: CutoffInterval) -> int:
        """The depth to cut to after this evaluation (the current depth: no cut)."""
        t, o = self.trainer, self.opts
        depth = t.model.depth
        if iv.high < depth - o.margin:
            self.clear.append(iv.cutoff)
        else:
            self.clear = []
        ready = o.cut and len(self.clear) >= o.patience and t.epoch >= o.min_epoch
        if not ready or t.epoch >= t.cfg.epochs:  # no training left to save
            return depth
        return max(self.clear[-o.patience :]) + o.margin

    def after_evaluation(self) -> dict[str, Any]:
        """Score the validation split, maybe cut; returns the keys to add to the metrics record."""
        t = self.trainer
        correct = self.val_correct()
        iv = self.interval(correct)
        depth = t.model.depth
        new_depth = self.decide(iv) if t.ctx.is_main else depth
        new_depth = dist.broadcast_int(new_depth, t.ctx)
        record: dict[str, Any] = {
            STATE_KEY: {
                "val_accuracy_per_depth": (correct.double().mean(dim=1) * 100).tolist(),
                "cutoff": iv.cutoff,
                "interval": [iv.low, iv.high],
                "clear_evaluations": len(self.clear),
                "depth": new_depth,
            }
        }
        if new_depth < depth:
            cut = {
                "step": t.step,
                "epoch": t.epoch,
                "depth_before": depth,
                "depth_after": new_depth,
                "interval": [iv.low, iv.high],
                "cutoff": iv.cutoff,
            }
            self.cuts.append(cut)
            self.clear = []
            self.apply(new_depth)
            t.train_model = dist.TrainingModel(t.model, t.ctx, t.device)  # DDP of the cut model
            t.log(
                f"auto-cut at epoch {t.epoch}, step {t.step}: depth {depth} -> {new_depth} "
                f"(validation cutoff {iv.cutoff}, 95% interval [{iv.low}, {iv.high}])"
            )
            record["cut"] = cut
        return record

    def apply(self, depth: int) -> None:
        """Cut the trainer's model to ``depth`` and carry its optimizer, schedule and grad-norm
        bookkeeping over to the kept parameters."""
        t = self.trainer
        cut_in_place(t.model, depth)
        t.optimizer = carry_optimizer(t.optimizer, t.model, t.cfg)
        t.schedule.optimizer = t.optimizer
        t.grad_norms = GradNorms(t.model)

    # -- checkpoints and summary ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            STATE_KEY: {
                "depth": self.trainer.model.depth,
                "clear": list(self.clear),
                "cuts": [dict(c) for c in self.cuts],
            }
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Bring a freshly built trainer to the checkpoint's depth (before its weights and
        optimizer state are loaded) and the monitor to its saved state."""
        saved = state.get(STATE_KEY)
        if saved is None:
            raise ConfigError(
                "the checkpoint was written without auto_cut; resume it without --auto-cut"
            )
        depth = int(saved["depth"])
        if depth < self.trainer.model.depth:
            self.apply(depth)
        self.clear = [int(c) for c in saved["clear"]]
        self.cuts = [dict(c) for c in saved["cuts"]]

    def summary(self) -> dict[str, Any]:
        o = self.opts
        return {
            "start_depth": self.start_depth,
            "final_depth": self.trainer.model.depth,
            "cuts": self.cuts,
            "options": dataclasses.asdict(o),
            "num_val": len(self.val),
        }
