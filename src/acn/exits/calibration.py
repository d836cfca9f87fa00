"""Threshold sweeps and calibration on cached per-exit logits (MSDNet-style: logits are computed
once per split, every threshold is then only a re-decision over them).

Calibration picks, on a validation split, the cheapest threshold whose accuracy is within
``target_drop`` points of the full model (the last exit) on that same split; the caller then
reports the held-out test result at that threshold.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from ..errors import ConfigError
from .cost import ExitCosts
from .policies import ExitPolicy, simulate_exits


@dataclass
class ExitOutcome:
    """What a policy at one threshold gives on one split."""

    tau: float
    accuracy: float  # percent
    histogram: list[float]  # fraction of samples leaving at each exit
    expected_flops: float  # per sample
    speedup: float  # FLOPs(full residual model) / expected_flops

    def to_dict(self) -> dict:
        return asdict(self)


class CachedExits:
    """Per-exit logits [E, N, C] of one split and its labels, with what every threshold reuses
    (per-exit correctness, each policy kind's scores) computed once."""

    def __init__(self, logits: Tensor, labels: Tensor) -> None:
        if logits.ndim != 3 or logits.shape[1] != labels.shape[0]:
            raise ConfigError(
                f"need logits [E, N, C] for N labels, got {list(logits.shape)} and {len(labels)}"
            )
        if logits.shape[1] == 0:
            raise ConfigError("cannot score early exit on an empty split")
        self.logits, self.labels = logits, labels
        self.correct = logits.argmax(dim=-1) == labels  # [E, N]
        self._scores: dict[str, Tensor] = {}

    @property
    def num_exits(self) -> int:
        return int(self.logits.shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.logits.shape[-1])

    def scores(self, policy: ExitPolicy) -> Tensor:
        if policy.kind not in self._scores:
            self._scores[policy.kind] = policy.score(self.logits)
        return self._scores[policy.kind]

    def accuracy(self, exit_at: Tensor) -> float:
        """Accuracy (%) when sample n is predicted by exit ``exit_at[n]``."""
        return float(self.correct.gather(0, exit_at[None]).float().mean() * 100)

    @property
    def full_accuracy(self) -> float:
        """Accuracy (%) of the last exit (the full model)."""
        return float(self.correct[-1].float().mean() * 100)


def outcome(policy: ExitPolicy, cached: CachedExits, costs: ExitCosts) -> ExitOutcome:
    """Accuracy, exit histogram and expected cost of ``policy`` on a split's cached logits."""
    if cached.num_exits != len(costs.cumulative):
        raise ConfigError(f"{cached.num_exits} exits of logits but {len(costs.cumulative)} costs")
    exit_at = simulate_exits(policy, scores=cached.scores(policy))
    counts = torch.bincount(exit_at, minlength=cached.num_exits).float()
    histogram = (counts / counts.sum()).tolist()
    return ExitOutcome(
        tau=float(policy.tau),
        accuracy=cached.accuracy(exit_at),
        histogram=histogram,
        expected_flops=costs.expected(histogram),
        speedup=costs.speedup(histogram),
    )


def tau_grid(kind: str, num_classes: int, num_exits: int, points: int = 201) -> list[float]:
    """Thresholds to sweep, from "nobody leaves early" to "everybody leaves at the first exit".

    entropy: 0 .. just above ln(C) nats; maxprob: 1 .. just below 1/C (descending, so both run
    from the most to the least demanding); patience: num_exits .. 1.
    """
    if kind == "patience":
        return [float(n) for n in range(max(1, num_exits), 0, -1)]
    # a hair past the extreme values, so that even a uniform prediction leaves at the end
    lo, hi = (
        (0.0, math.log(num_classes) + 1e-6) if kind == "entropy" else (1.0, 1 / num_classes - 1e-6)
    )
    return [lo + (hi - lo) * i / (points - 1) for i in range(points)]


def sweep(
    policy: ExitPolicy, cached: CachedExits, costs: ExitCosts, grid: list[float] | None = None
) -> list[ExitOutcome]:
    """Outcome of ``policy`` at every threshold of ``grid`` (default :func:`tau_grid`)."""
    if grid is None:
        grid = tau_grid(policy.kind, cached.num_classes, cached.num_exits)
    return [outcome(policy.with_tau(t), cached, costs) for t in grid]


@dataclass
class Calibration:
    """The chosen threshold and what it gave on the validation split."""

    policy: ExitPolicy
    target_drop: float
    full_accuracy: float  # the last exit's accuracy on the validation split
    validation: ExitOutcome


def calibrate(
    policy: ExitPolicy,
    cached: CachedExits,
    costs: ExitCosts,
    target_drop: float,
    grid: list[float] | None = None,
) -> Calibration:
    """Cheapest threshold on a validation split's cached logits with accuracy >= full accuracy - ``target_drop``.

    Ties in cost go to the more accurate threshold, then to the more demanding one (earlier in
    the grid). The default grid starts with a threshold at which every sample runs to the last
    exit (entropy < 0, max-prob > 1, patience = number of exits), so the target can always be met.
    """
    if not math.isfinite(target_drop) or target_drop < 0:
        raise ConfigError(f"target drop must be a number >= 0, got {target_drop}")
    full = cached.full_accuracy
    points = sweep(policy, cached, costs, grid)
    ok = [p for p in points if p.accuracy >= full - target_drop - 1e-9]
    if not ok:  # only possible with a caller's grid
        raise ConfigError(
            f"no threshold in the grid keeps accuracy within {target_drop} points of {full:.2f}%"
        )
    best = min(ok, key=lambda p: (p.expected_flops, -p.accuracy))  # min keeps the first of ties
    return Calibration(policy.with_tau(best.tau), target_drop, full, best)
