"""One early-exit configuration, measured end to end (one row of the paper's Table 7).

Per-exit logits of the validation and test splits are computed once (one pass per batch); the
threshold is calibrated on validation (or given), the test result is read at that threshold, and
the real early-exit path is timed against the model's own full forward at batch 1 and 256.

``heads="final"`` is the no-exit-head configuration: its single exit is a *global cutoff*, the
smallest depth whose validation accuracy is within ``target_drop`` of the full model (the paper's
"AC-Mixer with a global cutoff"); a given ``tau`` is then the cutoff depth itself.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..compress.latency import time_interleaved
from ..connectivity import check_depth
from ..errors import ConfigError
from ..evaluation import check_labels
from ..evaluation.cutoff import cutoff_depth
from ..models.base import StackModel
from ..models.exit_heads import HEADS, Exit, exit_logits, plan_exits
from ..utils import machine_info
from .calibration import CachedExits, ExitOutcome, calibrate, outcome, tau_grid
from .cost import ExitCosts, ExitPricer
from .inference import early_exit_predict
from .policies import POLICIES, ExitPolicy


@dataclass
class Split:
    """Prepared model inputs and integer labels of one split."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class ExitEvalConfig:
    """What to measure. ``tau=None`` calibrates on validation to meet ``target_drop`` (points)."""

    heads: str = "shared"
    policy: str = "entropy"
    tau: float | None = None
    target_drop: float = 0.5
    batch_size: int = 256  # for logits and for the large-batch timing
    timing: bool = True
    latency_samples: int = 100  # test samples timed one at a time (batch 1)
    warmup: int = 1
    repeats: int = 5

    def __post_init__(self) -> None:
        if self.heads not in HEADS:
            raise ConfigError(
                f"unknown exit heads {self.heads!r}; choose one of {', '.join(HEADS)}"
            )
        if self.policy not in POLICIES:
            raise ConfigError(
                f"unknown exit policy {self.policy!r}; choose one of {', '.join(POLICIES)}"
            )
        if not math.isfinite(self.target_drop) or self.target_drop < 0:
            raise ConfigError(f"target drop must be a number >= 0, got {self.target_drop}")
        if self.batch_size < 1 or self.latency_samples < 1 or self.repeats < 1 or self.warmup < 0:
            raise ConfigError("batch_size, latency_samples and repeats must be >= 1, warmup >= 0")


@dataclass
class WallClock:
    """Median seconds (over repeats, after warm-up) to predict ``samples`` test samples in
    batches of ``batch_size``: the full forward vs the early-exit path."""

    batch_size: int
    samples: int
    full_s: float
    exit_s: float

    @property
    def speedup(self) -> float:
        return self.full_s / self.exit_s


@dataclass
class ExitReport:
    """Everything measured for one model and configuration."""

    name: str
    connectivity: str
    heads: str
    policy: str  # "cutoff" for heads="final"
    tau: float
    calibrated: bool
    target_drop: float
    exits: list[str]
    exit_flops: list[int]  # per sample, to reach and evaluate each exit
    reference_flops: int  # the full residual twin, per sample
    validation: ExitOutcome
    validation_full_accuracy: float
    test: ExitOutcome
    test_full_accuracy: float
    wall: list[WallClock] = field(default_factory=list)
    sweep: list[dict] = field(default_factory=list)
    machine: dict = field(default_factory=dict)

    @property
    def drop(self) -> float:
        """Test accuracy lost against the full model (points)."""
        return self.test_full_accuracy - self.test.accuracy

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["drop"] = self.drop
        for w, d in zip(self.wall, out["wall"]):
            d["speedup"] = w.speedup
        return out


@torch.no_grad()
def collect_logits(
    model: StackModel, x: Tensor, exits: Sequence[Exit], batch_size: int = 256
) -> Tensor:
    """Per-exit logits [E, N, C] (float, on CPU) of ``x``, one forward pass per batch."""
    device = next(model.parameters()).device
    parts = [
        exit_logits(model, chunk.to(device), exits).float().cpu() for chunk in x.split(batch_size)
    ]
    return torch.cat(parts, dim=1)


def measure_wall_clock(
    model: StackModel,
    x: Tensor,
    policy: ExitPolicy,
    exits: Sequence[Exit],
    batch_size: int,
    warmup: int = 1,
    repeats: int = 5,
) -> WallClock:
    """Time the full forward and the early-exit path on the same samples, interleaved round by
    round so that load from other processes hits both alike; medians are compared."""
    device = next(model.parameters()).device
    chunks = [c.to(device) for c in x.split(batch_size)]

    def full() -> None:
        for c in chunks:
            model(c)

    def early() -> None:
        for c in chunks:
            early_exit_predict(model, c, policy, exits)

    times = time_interleaved({"full": full, "exit": early}, device, warmup, repeats)
    full_t, exit_t = times["full"], times["exit"]
    return WallClock(batch_size, len(x), statistics.median(full_t), statistics.median(exit_t))


def _row(tau: float, v: ExitOutcome, t: ExitOutcome) -> dict:
    return {
        "tau": tau,
        "val_accuracy": v.accuracy,
        "test_accuracy": t.accuracy,
        "expected_flops": t.expected_flops,
        "speedup": t.speedup,
    }


@dataclass
class _Choice:
    """A calibrated (or given) configuration and what it gives on both halves."""

    policy: ExitPolicy  # what the real early-exit path runs
    label: str  # the policy's name in the report ("cutoff" for a global cutoff)
    tau: float
    exits: list[Exit]
    costs: ExitCosts
    val: ExitOutcome
    val_full: float
    test: ExitOutcome
    test_full: float
    sweep: list[dict]


def evaluate_exits(
    model: StackModel, val: Split, test: Split, cfg: ExitEvalConfig, name: str = ""
) -> ExitReport:
    """Calibrate on ``val``, report on ``test`` (see the module docstring)."""
    for split in (val, test):
        if len(split) == 0:
            raise ConfigError("early-exit evaluation needs non-empty validation and test splits")
        check_labels(split.y, model.config.num_classes)
    model.eval()
    pricer = ExitPricer(model)
    choose = _choose_cutoff if cfg.heads == "final" else _choose_threshold
    c = choose(model, val, test, cfg, pricer)
    report = ExitReport(
        name=name or model.config.name,
        connectivity=model.config.connectivity,
        heads=cfg.heads,
        policy=c.label,
        tau=c.tau,
        calibrated=cfg.tau is None,
        target_drop=cfg.target_drop,
        exits=[e.label for e in c.exits],
        exit_flops=c.costs.cumulative,
        reference_flops=c.costs.reference,
        validation=c.val,
        validation_full_accuracy=c.val_full,
        test=c.test,
        test_full_accuracy=c.test_full,
        sweep=c.sweep,
    )
    return _timed(model, report, test, cfg, c.policy, c.exits)


def _choose_threshold(
    model: StackModel, val: Split, test: Split, cfg: ExitEvalConfig, pricer: ExitPricer
) -> _Choice:
    """Early exit over the heads' exits; threshold calibrated on validation unless given."""
    exits = plan_exits(model, cfg.heads)
    costs = pricer.costs(exits)
    v = CachedExits(collect_logits(model, val.x, exits, cfg.batch_size), val.y)
    t = CachedExits(collect_logits(model, test.x, exits, cfg.batch_size), test.y)
    policy = ExitPolicy(cfg.policy, cfg.tau)
    if cfg.tau is None:
        policy = calibrate(policy, v, costs, cfg.target_drop).policy
    grid = tau_grid(policy.kind, v.num_classes, v.num_exits)
    rows = [
        _row(tau, outcome(policy.with_tau(tau), v, costs), outcome(policy.with_tau(tau), t, costs))
        for tau in grid
    ]
    val_out, test_out = outcome(policy, v, costs), outcome(policy, t, costs)
    return _Choice(
        policy, policy.kind, float(policy.tau), exits, costs,
        val_out, v.full_accuracy, test_out, t.full_accuracy, rows,
    )  # fmt: skip


def _choose_cutoff(
    model: StackModel, val: Split, test: Split, cfg: ExitEvalConfig, pricer: ExitPricer
) -> _Choice:
    """heads="final": one exit at a global cutoff depth chosen on validation (or ``tau``)."""
    depths = [Exit(d) for d in range(model.depth + 1)]
    v = CachedExits(collect_logits(model, val.x, depths, cfg.batch_size), val.y)
    t = CachedExits(collect_logits(model, test.x, depths, cfg.batch_size), test.y)
    if cfg.tau is None:
        k = cutoff_depth(v.correct.float().mean(dim=1).mul(100).tolist(), cfg.target_drop)
    else:
        if cfg.tau != int(cfg.tau):
            raise ConfigError(f"with heads 'final', tau is a cutoff depth, got {cfg.tau}")
        k = check_depth(int(cfg.tau), model.depth)

    def at(depth: int, cached: CachedExits) -> ExitOutcome:
        costs = pricer.costs([Exit(depth)])
        accuracy = float(cached.correct[depth].float().mean() * 100)
        return ExitOutcome(
            float(depth), accuracy, [1.0], costs.expected([1.0]), costs.speedup([1.0])
        )

    rows = [_row(d, at(d, v), at(d, t)) for d in range(model.depth + 1)]
    exits = plan_exits(model, "final", cutoff=k)
    # with a single exit the policy never decides: every sample leaves there
    return _Choice(
        ExitPolicy(), "cutoff", float(k), exits, pricer.costs(exits),
        at(k, v), v.full_accuracy, at(k, t), t.full_accuracy, rows,
    )  # fmt: skip


def _timed(
    model: StackModel,
    report: ExitReport,
    test: Split,
    cfg: ExitEvalConfig,
    policy: ExitPolicy,
    exits: list[Exit],
) -> ExitReport:
    """Add wall-clock speedups at batch 1 and ``cfg.batch_size`` (when timing is on)."""
    if not cfg.timing:
        return report
    ref = next(model.parameters())
    report.machine = machine_info(ref.device, ref.dtype)
    for batch, x in ((1, test.x[: cfg.latency_samples]), (cfg.batch_size, test.x)):
        report.wall.append(
            measure_wall_clock(model, x, policy, exits, batch, cfg.warmup, cfg.repeats)
        )
    return report
