"""Expected FLOPs of early exit and the speedup the paper reports (App. H, Table 7).

Expected FLOPs = sum over exits of (fraction of samples leaving there) x (FLOPs a sample spends to
reach that exit: embedding, the blocks up to its depth, and EVERY exit classifier evaluated on the
way, this one included). The speedup is FLOPs(full residual model) / expected FLOPs, where the full
residual model is this architecture with ``residual`` connectivity and no branches (Table 7 divides
by the full Res-Mixer). FLOPs are counted per sample by :mod:`acn.compress.flops` (2 x MACs, matrix
products only, attention included).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..compress.flops import count_flops, depth_flops
from ..models.base import StackModel
from ..models.exit_heads import Exit, exit_classifier
from ..models.registry import build_model


@dataclass
class ExitCosts:
    """Per-sample FLOPs to reach and evaluate each exit, and the full residual model's FLOPs."""

    exits: list[Exit]
    cumulative: list[int]
    reference: int

    def expected(self, fractions: Sequence[float]) -> float:
        """Expected FLOPs per sample for the given fraction of samples leaving at each exit."""
        return float(sum(f * c for f, c in zip(fractions, self.cumulative)))

    def speedup(self, fractions: Sequence[float]) -> float:
        """FLOPs(full residual model) / expected FLOPs (Table 7's definition)."""
        return self.reference / self.expected(fractions)


def residual_twin(model: StackModel) -> StackModel:
    """The same architecture with residual wiring and no branches (weights are irrelevant)."""
    values = dataclasses.asdict(model.config)
    values.update(connectivity="residual", exit_branches=())
    with torch.random.fork_rng(devices=[]):  # building must not move the caller's RNG
        return build_model(model.family, values)


class ExitPricer:
    """Counts one pass of ``model`` (batch 1) per stage and the residual twin once, then prices
    any list of exits without counting again."""

    def __init__(self, model: StackModel) -> None:
        self.model = model
        self.stages = depth_flops(model, batch_size=1)
        ref = next(model.parameters())
        twin = residual_twin(model).to(ref.device)
        self.reference = depth_flops(twin, batch_size=1).full.total
        self._feature = torch.zeros(1, model.width, device=ref.device, dtype=ref.dtype)

    def classifier_flops(self, e: Exit) -> int:
        if not e.branch:
            return self.stages.head.total  # pool -> norm -> head
        return count_flops(exit_classifier(self.model, e), self._feature).total

    def costs(self, exits: Sequence[Exit]) -> ExitCosts:
        cumulative, classifiers = [], 0
        for e in exits:
            classifiers += self.classifier_flops(e)
            blocks = sum(b.total for b in self.stages.blocks[: e.depth])
            cumulative.append(self.stages.embed.total + blocks + classifiers)
        return ExitCosts(list(exits), cumulative, self.reference)


def exit_costs(model: StackModel, exits: Sequence[Exit]) -> ExitCosts:
    """Per-sample FLOPs of every exit of ``model`` and of its full residual twin."""
    return ExitPricer(model).costs(exits)
