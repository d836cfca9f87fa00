"""The training loop: ``train(cfg)`` trains one model and writes its run directory.

RUN/config.yaml      the resolved config
RUN/metrics.jsonl    one record per evaluation (accuracy at every depth, per-block grad norms, ...)
RUN/checkpoint/      model.safetensors + state.pt (+ checksums.json), one atomic unit written at
                     every evaluation (see acn.train.checkpoint)
RUN/.lock            held while a process trains into RUN (see acn.runs.lock)
RUN/summary.json     final accuracy per depth, cutoff, cost of the cut model, time, machine

Determinism: the batch order and the augmentation of epoch e are pure functions of (seed, e), and
the checkpoint holds the optimizer, schedule and RNG states, so a run resumed from a checkpoint
retraces the uninterrupted run step for step (bitwise on CPU). Under torchrun each process
prepares the same GLOBAL batch (same augmentation, same CutMix partners) and trains on its rows,
so N processes compute what one process computes on that batch, up to float summation order.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..data import Batches
from ..errors import ConfigError, TrainingDivergedError
from ..evaluation import evaluate_per_depth
from ..evaluation.cutoff import LM_TOLERANCE, cutoff_depth, loss_cutoff_depth
from ..models.base import StackModel
from ..models.registry import create_model
from ..runs.config import CONFIG_FILE, TrainConfig, resume_changes, to_dict, to_yaml
from ..runs.files import MetricsLog, write_summary
from ..runs.inputs import check_fit, load_train_data, model_values
from ..runs.lock import RunLock
from ..runs.preprocessing import describe_preprocessing, inherit_tokenizer
from ..runs.run import Run
from ..serialization import load_matching
from ..utils import atomic_write
from . import distributed as dist
from .autocut import AutoCut, CutDecision, Progress, split_validation
from .budget import check_training_memory
from .checkpoint import (
    has_checkpoint,
    kept_checkpoint,
    load_checkpoint,
    read_state,
    recover,
    save_checkpoint,
)
from .grad_norms import GradNorms, clip_with_norm
from .grad_stats import GradStats
from .gradient_share import direct_gradient_share
from .losses import get_loss, num_targets
from .optim import WarmupCosine, build_optimizer, carry_optimizer
from .rng import augment_seed, rng_state, set_rng_state
from .summary import CUTOFF_TOLERANCE, run_summary
from .train_flops import TrainFlops

NAN_CHECK_EVERY = 20  # steps between checks for a non-finite loss (each check syncs the device)


@dataclass
class TrainResult:
    run_dir: Path
    summary: dict[str, Any]
    model: StackModel  # the trained model, on the training device, in eval mode


def train(
    cfg: TrainConfig,
    *,
    resume: bool = False,
    allow_changed_config: bool = False,
    progress: bool | None = None,
    log: Callable[[str], None] | None = print,
) -> TrainResult:
    """Train ``cfg`` into ``cfg.out_dir`` (continuing its checkpoint if ``resume``).

    The run directory is locked for the duration (rank 0). A resume whose config differs from
    the checkpoint's in a setting that changes the training path (batch size, optimizer, data,
    model, seed, ...) is refused unless ``allow_changed_config``. ``progress``: tqdm bars
    (default: only when stderr is a terminal, rank 0 only); ``log`` receives one line per
    evaluation on rank 0 (None: silent).
    """
    cfg = inherit_tokenizer(cfg.validate())
    ctx, device = dist.setup(cfg.device)
    try:
        with RunLock(cfg.out_dir) if ctx.is_main else nullcontext():
            trainer = Trainer(
                cfg,
                ctx,
                device,
                resume=resume,
                allow_changed_config=allow_changed_config,
                progress=progress,
                log=log,
            )
            return trainer.run()
    finally:
        dist.teardown(ctx)


class Trainer:
    """One training run; see the module docstring. Built by :func:`train`."""

    def __init__(
        self,
        cfg: TrainConfig,
        ctx: dist.DistContext,
        device: torch.device,
        *,
        resume: bool = False,
        allow_changed_config: bool = False,
        progress: bool | None = None,
        log: Callable[[str], None] | None = print,
    ) -> None:
        self.cfg, self.ctx, self.device = cfg, ctx, device
        self.run_dir = Path(cfg.out_dir)
        self.allow_changed_config = allow_changed_config
        if ctx.is_main:
            recover(self.run_dir)  # what a crash mid-save left behind (we hold the run lock)
        dist.barrier(ctx)
        # metrics.jsonl alone (an attempt that died before its first checkpoint) holds nothing to
        # resume, so it does not block a fresh start; its records are dropped below
        if not resume and (has_checkpoint(self.run_dir) or Run(self.run_dir).finished):
            raise ConfigError(
                f"run directory {self.run_dir} already holds a run; continue it with "
                f"--resume {self.run_dir} or choose another out_dir"
            )
        self.log = log if ctx.is_main and log is not None else (lambda line: None)
        tty = sys.stderr.isatty()
        self.show_progress = ctx.is_main and (tty if progress is None else progress)

        torch.manual_seed(cfg.seed)
        self.data, val = split_validation(cfg, load_train_data(cfg))
        values = model_values(cfg, self.data.info)
        check_training_memory(
            cfg.model.name, cfg.model.connectivity, values, device, cfg.batch_size
        )
        self.model = create_model(cfg.model.name, cfg.model.connectivity, **values)
        check_fit(self.model, self.data)
        # what using the model needs besides its weights (data, normalisation, tokenizer): it
        # travels in every checkpoint and the final model file
        self.model.pretrained_cfg = describe_preprocessing(cfg, self.data)
        if cfg.init_from and not resume:
            _, fresh = load_matching(self.model, cfg.init_from, cfg.init_skip)
            self.log(f"initialised from {cfg.init_from}; fresh: {', '.join(fresh) or 'none'}")
        self.model.to(device)
        if cfg.compile:  # in place: parameter names and checkpoints stay those of the model
            self.model.compile()
        self.num_classes = self.model.config.num_classes
        self.amp_dtype, self.scaler = dist.amp_setup(cfg.amp, device)
        self.loss_fn = get_loss(cfg.loss)
        self.dg_share = self._dg_share_fn() if cfg.dg_share else None

        self.batches = Batches(self.data.splits.train, cfg.batch_size, shuffle=True, seed=cfg.seed)
        n, b = len(self.data.splits.train), cfg.batch_size
        # a final global batch too small to give every process a row is dropped (as acn.data does)
        self.steps_per_epoch = n // b + (1 if n % b >= ctx.world_size else 0)
        self.optimizer = build_optimizer(self.model, cfg.optim)
        self.schedule = WarmupCosine(
            self.optimizer,
            cfg.optim.lr,
            cfg.optim.min_lr,
            warmup_steps=round(cfg.optim.warmup_epochs * self.steps_per_epoch),
            total_steps=cfg.epochs * self.steps_per_epoch,
        )
        self.grad_norms = GradNorms(self.model)
        self.grad_stats = (
            GradStats(self.model, cfg.grad_stats_every, ctx) if cfg.grad_stats else None
        )
        self.flops = TrainFlops()
        self.auto_cut = (
            AutoCut(cfg.auto_cut, val, self.model.depth, cfg.seed) if val is not None else None
        )
        self.metrics = MetricsLog(self.run_dir)
        self.epoch, self.step, self.seconds_before = 0, 0, 0.0
        self._optimizer_state: dict | None = None  # a checkpoint's, loaded once sharding is done
        self._reset_train_stats()
        if resume:
            self._restore()
        elif ctx.is_main and Run(self.run_dir).metrics_path.exists():
            self.metrics.keep_until(0)
        if ctx.is_main:
            text = to_yaml(cfg)
            try:
                atomic_write(self.run_dir / CONFIG_FILE, lambda tmp: Path(tmp).write_text(text))
            except OSError as e:
                raise ConfigError(
                    f"cannot write run directory {self.run_dir}: {e.strerror or e}"
                ) from None
        self.train_model = dist.TrainingModel(self.model, ctx, device, cfg.strategy)
        if self.train_model.sharded:
            self._follow_shards()
        if self._optimizer_state is not None:
            self.train_model.load_optimizer_state(self.optimizer, self._optimizer_state)

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg = self.cfg
        self.started = time.perf_counter()
        self.log(f"training {self.describe()}")
        for epoch in range(self.epoch, cfg.epochs):
            self.train_epoch(epoch)
            self.epoch = epoch + 1
            if self.epoch % cfg.eval_every == 0 or self.epoch == cfg.epochs:
                record = self.evaluate()
                if self.auto_cut is not None:  # may cut the model: after evaluate, before save
                    record.update(self.auto_cut_step())
                if self.ctx.is_main:
                    self.metrics.append(record)
                self.log(_eval_line(record, cfg.epochs, self.model.depth, self.data.kind))
                self.save()
        if self.train_model.sharded:  # the finished run's model is an ordinary, full one
            self.model = self.train_model.full_model()
        summary = self.summary()
        if self.ctx.is_main:
            write_summary(self.run_dir, summary)
        dist.barrier(self.ctx)
        return TrainResult(self.run_dir, summary, self.model.eval())

    def train_epoch(self, epoch: int) -> None:
        self.model.train()
        self.batches.set_epoch(epoch)
        gen = torch.Generator().manual_seed(augment_seed(self.cfg.seed, epoch))
        losses: list[torch.Tensor] = []
        checked = 0
        bar = tqdm(
            total=self.steps_per_epoch,
            desc=f"epoch {epoch + 1}/{self.cfg.epochs}",
            disable=not self.show_progress,
            leave=False,
            dynamic_ncols=True,
        )
        for i, (x, y) in zip(range(self.steps_per_epoch), self.batches):
            losses.append(self.train_step(x, y, gen))
            if (i + 1) % NAN_CHECK_EVERY == 0 or i + 1 == self.steps_per_epoch:
                self._check_finite(losses, checked, epoch)
                checked = len(losses)
                if self.show_progress:
                    bar.set_postfix(loss=f"{float(losses[-1]):.4f}")
            bar.update()
        bar.close()

    def train_step(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """One optimizer step on a global batch; returns this process's loss (detached)."""
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        x, y = self.data.prepare(x, y, True, gen, self.num_classes)
        rows = len(x)  # of the global batch
        lo, hi = dist.shard_bounds(len(x), self.ctx.rank, self.ctx.world_size)
        n_global, n_local = num_targets(y), num_targets(y[lo:hi])
        x, y = x[lo:hi], y[lo:hi]
        measured = self.grad_stats is not None and self.grad_stats.due(self.step)
        rng = rng_state(self.device) if measured else None  # where the forward's draws begin
        with self.flops.counting(self.model, rows, self.ctx, self.device):
            loss = self._loss(self.train_model, x, y)
        # DDP averages gradients over processes; weighting by the shard's share of the targets
        # (rows, or masked tokens for MLM) makes that the mean over the global batch even when
        # shards differ by a row or in their number of masked tokens. The counts stay on the
        # device: no host sync per step.
        weight = n_local * self.ctx.world_size / n_global.clamp(min=1)
        scaled = loss * weight if self.ctx.world_size > 1 else loss
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(scaled).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            scaled.backward()
        if measured:  # the direct-gradient pass: the same loss on the same rows (see grad_stats)
            self._measure_grad_stats(x, y, weight, rng)
        total_norm = self.grad_norms.measure()
        if self.cfg.optim.grad_clip > 0:
            clip_with_norm(self.grad_norms.params, self.cfg.optim.grad_clip, total_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.schedule.step()
        self.step += 1
        loss = loss.detach().float()
        self.stats += torch.stack([loss * n_local, n_local.to(loss)])
        self.norm_sum += total_norm.detach().float()
        return loss

    def _loss(self, model: Any, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The training loss of this process's rows (under autocast when AMP is on)."""
        autocast = (
            torch.autocast(self.device.type, dtype=self.amp_dtype)
            if self.amp_dtype is not None
            else nullcontext()
        )
        with autocast:
            return self.loss_fn(model, x, y, self.cfg)[0]

    def _measure_grad_stats(
        self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, rng: dict[str, torch.Tensor]
    ) -> None:
        assert self.grad_stats is not None
        plain = dist.TrainingModel(self.model, dist.DistContext(), self.device)  # no DDP sync
        multi = self.ctx.world_size > 1
        scale = self.scaler.scale(torch.ones((), device=self.device)) if self.scaler else None

        def direct_loss() -> torch.Tensor:
            loss = self._loss(plain, x, y)
            loss = loss * weight if multi else loss
            return loss * scale if scale is not None else loss

        self.grad_stats.measure(direct_loss, rng, scale)

    def _check_finite(self, losses: list[torch.Tensor], start: int, epoch: int) -> None:
        window = torch.stack(losses[start:])
        bad = ~torch.isfinite(window)
        flag = dist.all_reduce_sum(bad.any().float().reshape(1), self.ctx)
        if float(flag) == 0:
            return
        local = torch.nonzero(bad).flatten()
        first = int(local[0]) if len(local) else len(window) - 1
        step = self.step - len(window) + first + 1
        value = float(window[first])
        raise TrainingDivergedError(
            f"loss became {value} at epoch {epoch + 1}, step {step} "
            f"(lr {self.schedule.lr_at(step - 1):.3g}); training stopped, {kept_checkpoint(self.run_dir)}"
        )

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self) -> dict[str, Any]:
        """Accuracy at every depth on the test split (sharded over processes), grad norms, loss."""
        depth = self.model.depth
        test_rows = len(self.data.splits.test)
        lo, hi = dist.shard_bounds(test_rows, self.ctx.rank, self.ctx.world_size)
        # correct per depth, loss x n, n, train stats (2), loss sum per depth
        totals = torch.zeros(2 * depth + 6, dtype=torch.float64, device=self.device)
        model = self.train_model.full_model()  # FSDP: gathered on every rank, then local passes
        if hi > lo:
            batches = self.data.test_batches(self.cfg.eval_batch_size, self.device, (lo, hi))
            ev = evaluate_per_depth(model, batches, self.device)
            totals[: depth + 1] = ev.correct.sum(dim=1).to(totals)
            totals[depth + 1] = ev.loss * ev.num_samples
            totals[depth + 2] = ev.num_samples
            totals[depth + 5 :] = ev.nll.double().sum(dim=1).to(totals)
        totals[depth + 3 : depth + 5] = self.stats.to(totals)
        dist.all_reduce_sum(totals, self.ctx)
        n = float(totals[depth + 2])
        accuracy = (totals[: depth + 1] / n * 100).tolist()
        loss_per_depth = (totals[depth + 5 :] / n).tolist()
        steps = max(float(self.steps_since_eval()), 1.0)
        record = {
            "epoch": self.epoch,
            "step": self.step,
            "lr": self.schedule.current_lr,
            "train_loss": float(totals[depth + 3] / totals[depth + 4]),
            "test_loss": float(totals[depth + 1]) / n,
            "accuracy": accuracy[-1],
            "accuracy_per_depth": accuracy,
            "loss_per_depth": loss_per_depth,
            # language models: by loss (nats/token); classifiers: by accuracy points
            "cutoff_depth": (
                loss_cutoff_depth(loss_per_depth, LM_TOLERANCE)
                if self.data.kind == "lm"
                else cutoff_depth(accuracy, CUTOFF_TOLERANCE)
            ),
            "grad_norm": float(self.norm_sum) / steps,
            "grad_norm_per_block": self.grad_norms.read(),
        }
        if self.grad_stats is not None:
            record.update(self.grad_stats.read())
        if self.dg_share is not None and self.ctx.is_main:
            x, y = self._dg_batch
            record["dg_share"] = self.dg_share(model, x, y)
        record["time_s"] = round(self.elapsed(), 3)
        self._reset_train_stats()
        return record

    def steps_since_eval(self) -> int:
        return self.step - self._eval_step

    def _reset_train_stats(self) -> None:
        self.stats = torch.zeros(2, device=self.device)  # sum of loss x rows, rows
        self.norm_sum = torch.zeros((), device=self.device)
        self._eval_step = self.step

    def _dg_share_fn(self) -> Callable:
        x, y = next(self.data.test_batches(self.cfg.dg_share_batch, self.device))
        self._dg_batch = (x, y)
        return direct_gradient_share

    # -- auto-cut: evaluate, decide, act -------------------------------------------------------
    def auto_cut_step(self) -> dict[str, Any]:
        """Score the validation split, let auto-cut decide, and act on its decision (cut the
        model, or nothing); returns the keys to add to the evaluation's metrics record."""
        assert self.auto_cut is not None
        correct = self.auto_cut.val_correct(
            self.model, self.data, self.ctx, self.device, self.cfg.eval_batch_size
        )
        at = Progress(self.epoch, self.step, self.cfg.epochs)
        decision = self.auto_cut.decide(correct, self.model.depth, at, self.ctx)
        self.apply(decision)
        return decision.record

    def apply(self, decision: CutDecision) -> None:
        """Act on an auto-cut decision: cut the model, or nothing."""
        if decision.cut:
            self.cut(decision.depth)
            self.train_model = dist.TrainingModel(self.model, self.ctx, self.device)  # DDP anew
            self.log(decision.message)

    def cut(self, depth: int) -> None:
        """Keep the first ``depth`` blocks of the model (in place: the kept parameters are the
        same objects) and rebuild what depends on its parameters: the optimizer (carrying the
        kept parameters' state), the schedule's handle on it and the grad-norm bookkeeping."""
        self.model.cut_(depth)
        self.optimizer = carry_optimizer(self.optimizer, self.model, self.cfg.optim)
        self.schedule.optimizer = self.optimizer
        self.grad_norms = GradNorms(self.model)
        if self.grad_stats is not None:  # the statistics since the last evaluation were read
            self.grad_stats = GradStats(self.model, self.cfg.grad_stats_every, self.ctx)

    # -- checkpoints ----------------------------------------------------------------------------
    def save(self) -> None:
        """Write the checkpoint (rank 0), unless the weights are no longer finite."""
        model = self.train_model.full_model()
        finite = torch.stack([p.detach().isfinite().all() for p in model.parameters()])
        if not bool(finite.all()):
            raise TrainingDivergedError(
                f"weights became non-finite by epoch {self.epoch}, step {self.step}; training "
                f"stopped, {kept_checkpoint(self.run_dir)}"
            )
        state = {
            "step": self.step,
            "epoch": self.epoch,
            "optimizer": self.train_model.optimizer_state(self.optimizer),
            "scheduler": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
            "rng": rng_state(self.device),
            "train_seconds": self.elapsed(),
            "world_size": self.ctx.world_size,
            "config": to_dict(self.cfg),
            **self.flops.state_dict(),
            **(self.auto_cut.state_dict(self.model.depth) if self.auto_cut is not None else {}),
        }
        if self.ctx.is_main:  # a failure is a one-line CheckpointError; the last one stays current
            save_checkpoint(self.run_dir, model, state)
        dist.barrier(self.ctx)

    def _restore(self) -> None:
        if self.auto_cut is not None:  # the checkpoint may hold a cut model: cut to its depth
            depth = self.auto_cut.restore(read_state(self.run_dir))
            if depth < self.model.depth:
                self.cut(depth)
        state = load_checkpoint(self.run_dir, self.model)
        changed = resume_changes(state.get("config", {}), to_dict(self.cfg))
        if changed and not self.allow_changed_config:
            raise ConfigError(
                f"resuming with changed {', '.join(changed)} would not continue the run exactly "
                f"(the checkpoint was trained with other values); pass --allow-changed-config "
                "to resume anyway"
            )
        self.flops.load_state_dict(state)
        self._optimizer_state = state["optimizer"]  # loaded by the TrainingModel (FSDP: sharded)
        self.schedule.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"], self.device)
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.seconds_before = float(state.get("train_seconds", 0.0))
        self._eval_step = self.step
        if self.ctx.is_main:
            self.metrics.keep_until(self.step)

    def _follow_shards(self) -> None:
        """FSDP swapped the model's parameters for sharded ones: the optimizer, the schedule and
        the gradient norms must hold the new ones."""
        self.optimizer = build_optimizer(self.model, self.cfg.optim)
        self.schedule.optimizer = self.optimizer
        self.schedule._apply()  # the current step's learning rate on the new param groups
        self.grad_norms = GradNorms(self.model)

    # -- reporting ------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def describe(self) -> str:
        c = self.model.config
        return (
            f"{c.name} ({c.connectivity}, depth {self.model.depth}, "
            f"{self.model.num_params():,} params) on {self.data.splits.describe()}; "
            f"{self.cfg.epochs} epochs x {self.steps_per_epoch} steps, batch {self.cfg.batch_size}, "
            f"{self.ctx.world_size} process(es) on {self.device}, seed {self.cfg.seed}"
        )

    def summary(self) -> dict[str, Any]:
        """The run's summary (rank 0; {} elsewhere or before any evaluation)."""
        records = Run(self.run_dir).metrics() if self.ctx.is_main else []
        if not records:
            return {}
        summary = run_summary(
            self.model,
            self.cfg,
            records[-1],
            run_dir=self.run_dir,
            data=self.data.splits.describe(),
            data_info=self.data.info,
            world_size=self.ctx.world_size,
            amp_dtype=self.amp_dtype,
            device=self.device,
            train_time_s=self.elapsed(),
        )
        summary["total_train_flops"] = self.flops.total
        if self.auto_cut is not None:
            summary["auto_cut"] = self.auto_cut.summary(self.model.depth)
        return summary


def _eval_line(record: dict[str, Any], epochs: int, depth: int, kind: str = "") -> str:
    if kind == "lm":
        losses = " ".join(f"{v:.3f}" for v in record["loss_per_depth"][1:])
        return (
            f"epoch {record['epoch']}/{epochs}  step {record['step']}  "
            f"train_loss {record['train_loss']:.4f}  val_loss {record['test_loss']:.4f}  "
            f"per depth {losses}  cutoff {record['cutoff_depth']}/{depth}"
        )
    return (
        f"epoch {record['epoch']}/{epochs}  step {record['step']}  "
        f"train_loss {record['train_loss']:.4f}  test_loss {record['test_loss']:.4f}  "
        f"acc {record['accuracy']:.2f}%  cutoff {record['cutoff_depth']}/{depth}"
    )
