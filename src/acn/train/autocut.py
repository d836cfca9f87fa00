"""``acn train --auto-cut``: drop the top blocks an ACN stopped using, while it trains.

An ACN moves its task information into its early blocks as it learns; every evaluation already
scores every depth in one pass. The monitor here turns that into a training-time saving:

1. A validation split is carved from the training data (``auto_cut.val_fraction`` of every
   class, drawn with the run's seed; the test split is never looked at) and removed from training.
2. After each evaluation the monitor scores every depth on it and takes the cutoff: the smallest
   depth within ``tolerance`` points of the best depth, with a bootstrap 95% interval
   (:func:`acn.evaluation.cutoff.bootstrap_cutoff`).
3. When the interval's upper end has stayed below ``depth - margin`` for ``patience``
   evaluations in a row (and ``min_epoch`` epochs are done, and training is not over), it decides
   to keep ``cutoff + margin`` blocks (the largest cutoff of those evaluations, so the cut is no
   deeper than any of them asked for), and never fewer than one. Cuts may repeat.

The monitor only evaluates (:meth:`AutoCut.val_correct`) and decides (:meth:`AutoCut.decide`
returns a :class:`CutDecision`), and the trainer (:mod:`acn.train.loop`) acts on it - it cuts its model in
place (:meth:`acn.models.base.StackModel.cut_`; the kept blocks are the same parameter objects,
so their AdamW moments and step counts carry over and the LR schedule continues where it was) and
rebuilds what depends on the model. Under torchrun the validation pass is sharded and its
per-sample results all-reduced; rank 0 decides and broadcasts the new depth, so every process
cuts at the same step. The checkpoint records the current depth and the monitor's state, so a
resumed run cuts its freshly built model to that depth before loading the weights and retraces
the uninterrupted run exactly. The model file describes the cut model (its config has the new
depth), so ``acn.load``, ``acn probe`` and ``acn compress`` see an ordinary, shallower model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..data import ArrayDataset, Batches, DataSplits, stratified_split
from ..errors import CheckpointError, ConfigError
from ..evaluation import evaluate_per_depth
from ..evaluation.cutoff import CutoffInterval, bootstrap_cutoff
from ..models.base import StackModel
from ..runs.config import AutoCutSection, TrainConfig
from ..runs.inputs import TrainData
from . import distributed as dist

STATE_KEY = "auto_cut"
MIN_DEPTH = 1  # a model with no blocks is not an ACN any more; plain training refuses depth 0 too


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


@dataclass(frozen=True)
class CutDecision:
    """What the monitor decided after one evaluation: keep ``depth`` blocks (``cut`` says whether
    that is fewer than the model has), and the keys to add to the evaluation's metrics record."""

    depth: int
    cut: bool
    record: dict[str, Any] = field(default_factory=dict)
    message: str = ""  # the log line of a cut


@dataclass(frozen=True)
class Progress:
    """Where training stands when the monitor decides."""

    epoch: int
    step: int
    epochs: int


class AutoCut:
    """The cutoff monitor and the cut rule of one run (see the module docstring). It never
    changes the model: it reads it, and says what to do."""

    def __init__(
        self, opts: AutoCutSection, val: ArrayDataset, start_depth: int, seed: int
    ) -> None:
        if opts.margin >= start_depth:
            raise ConfigError(
                f"auto_cut.margin ({opts.margin}) must be smaller than the model depth "
                f"({start_depth})"
            )
        self.opts, self.val, self.seed = opts, val, seed
        self.start_depth = start_depth
        self.clear: list[int] = []  # cutoffs of the current run of clear evaluations
        self.cuts: list[dict[str, Any]] = []

    # -- evaluate -------------------------------------------------------------------------------
    def val_correct(
        self,
        model: StackModel,
        data: TrainData,
        ctx: dist.DistContext,
        device: torch.device,
        batch_size: int,
    ) -> Tensor:
        """Per-sample correctness [L+1, N_val] at every depth; sharded, then all-reduced."""
        n = len(self.val)
        lo, hi = dist.shard_bounds(n, ctx.rank, ctx.world_size)
        full = torch.zeros(model.depth + 1, n, dtype=torch.float32, device=device)
        if hi > lo:
            rows = self.val.subset(torch.arange(lo, hi))
            num_classes = model.config.num_classes
            batches = (
                data.prepare(x.to(device), y.to(device), False, None, num_classes)
                for x, y in Batches(rows, batch_size, shuffle=False)
            )
            ev = evaluate_per_depth(model, batches, device)
            full[:, lo:hi] = ev.correct.to(full)
        return dist.all_reduce_sum(full, ctx).cpu() > 0.5

    def interval(self, correct: Tensor) -> CutoffInterval:
        o = self.opts
        return bootstrap_cutoff(correct, o.tolerance, o.bootstrap, seed=self.seed, reference="best")

    # -- decide ---------------------------------------------------------------------------------
    def rule(self, iv: CutoffInterval, depth: int, at: Progress) -> int:
        """The depth to keep after this evaluation (``depth``: no cut); updates the run of
        clear evaluations. Never below :data:`MIN_DEPTH`."""
        o = self.opts
        if iv.high < depth - o.margin:
            self.clear.append(iv.cutoff)
        else:
            self.clear = []
        ready = o.cut and len(self.clear) >= o.patience and at.epoch >= o.min_epoch
        if not ready or at.epoch >= at.epochs:  # no training left to save
            return depth
        return min(depth, max(MIN_DEPTH, max(self.clear[-o.patience :]) + o.margin))

    def decide(
        self, correct: Tensor, depth: int, at: Progress, ctx: dist.DistContext
    ) -> CutDecision:
        """What to do with a ``depth``-block model whose validation results are ``correct``
        (:meth:`val_correct`); rank 0 decides, every rank gets the same decision."""
        iv = self.interval(correct)
        new_depth = self.rule(iv, depth, at) if ctx.is_main else depth
        new_depth = dist.broadcast_int(new_depth, ctx)
        record: dict[str, Any] = {
            STATE_KEY: {
                "val_accuracy_per_depth": (correct.double().mean(dim=1) * 100).tolist(),
                "cutoff": iv.cutoff,
                "interval": [iv.low, iv.high],
                "clear_evaluations": len(self.clear),
                "depth": new_depth,
            }
        }
        if new_depth >= depth:
            return CutDecision(depth, False, record)
        cut = {
            "step": at.step,
            "epoch": at.epoch,
            "depth_before": depth,
            "depth_after": new_depth,
            "interval": [iv.low, iv.high],
            "cutoff": iv.cutoff,
        }
        self.cuts.append(cut)
        self.clear = []
        message = (
            f"auto-cut at epoch {at.epoch}, step {at.step}: depth {depth} -> {new_depth} "
            f"(validation cutoff {iv.cutoff}, 95% interval [{iv.low}, {iv.high}])"
        )
        return CutDecision(new_depth, True, {**record, "cut": cut}, message)

    # -- checkpoints and summary ----------------------------------------------------------------
    def state_dict(self, depth: int) -> dict[str, Any]:
        return {
            STATE_KEY: {
                "depth": depth,
                "clear": list(self.clear),
                "cuts": [dict(c) for c in self.cuts],
            }
        }

    def restore(self, state: dict[str, Any]) -> int:
        """Bring the monitor to a checkpoint's saved state; returns the depth the checkpoint's
        model has (the trainer cuts its fresh model to it before loading the weights)."""
        saved = state.get(STATE_KEY)
        if saved is None:
            raise ConfigError(
                "the checkpoint was written without auto_cut; resume it without --auto-cut"
            )
        try:
            depth = int(saved["depth"])
            self.clear = [int(c) for c in saved["clear"]]
            self.cuts = [dict(c) for c in saved["cuts"]]
        except (KeyError, TypeError, ValueError):
            raise CheckpointError("the checkpoint's auto_cut state is corrupt") from None
        return depth

    def summary(self, final_depth: int) -> dict[str, Any]:
        return {
            "start_depth": self.start_depth,
            "final_depth": final_depth,
            "cuts": self.cuts,
            "options": dataclasses.asdict(self.opts),
            "num_val": len(self.val),
        }
