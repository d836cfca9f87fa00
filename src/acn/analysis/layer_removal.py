"""Which blocks to remove from a trained network, by the two post-hoc rules the alternatives
experiment compares with auto-compression.

- ShortGPT (Men et al. 2024): drop the ``n`` blocks with the lowest block influence
  BI_i = 1 - cos(x_{i-1}, x_i) (:mod:`acn.analysis.influence`, the ``chain`` reading), wherever
  they are.
- Angular distance (Gromov et al. 2024, "The unreasonable ineffectiveness of the deeper layers"):
  drop the contiguous run of ``n`` blocks l+1..l+n whose input x_l and output x_{l+n} are closest,
  d(l, n) = arccos(cos(x_l, x_{l+n})) / pi, averaged over samples. Gromov et al. read the last
  token of a language model; a classifier here reads what its head pools (the cls token or the
  token mean), which is the same role.

Both return the 0-based indices of the blocks to KEEP, in order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from ..connectivity import StackState
from ..errors import ConfigError
from ..models.base import StackModel
from .influence import block_influence


def _check(depth: int, n: int) -> None:
    if not 0 <= n <= depth:
        raise ConfigError(f"cannot remove {n} of {depth} blocks")


def shortgpt_keep(influence: list[float], n: int) -> list[int]:
    """Blocks kept after dropping the ``n`` lowest-influence ones (ties: the later block goes)."""
    _check(len(influence), n)
    order = sorted(range(len(influence)), key=lambda i: (influence[i], -i))
    return sorted(set(range(len(influence))) - set(order[:n]))


def angular_keep(distance: Tensor, n: int) -> list[int]:
    """Blocks kept after dropping the contiguous run of ``n`` with the smallest d(l, n).

    ``distance`` is the [L+1, L+1] matrix of mean angular distances between depths."""
    depth = distance.shape[0] - 1
    _check(depth, n)
    if n == 0:
        return list(range(depth))
    starts = [float(distance[s, s + n]) for s in range(depth - n + 1)]
    best = min(range(len(starts)), key=lambda s: (starts[s], -s))
    return [i for i in range(depth) if not best <= i < best + n]


class _PooledInputs:
    """``on_step`` hook keeping what the head would pool from the stack input at every depth."""

    def __init__(self, model: StackModel) -> None:
        self.model, self.pooled = model, []

    def __call__(self, before: StackState, after: StackState) -> None:
        if not self.pooled:
            self.pooled.append(self.model.pool(before.h).flatten(1).double())
        self.pooled.append(self.model.pool(after.h).flatten(1).double())


@torch.no_grad()
def angular_distances(model: StackModel, batches: Iterable[tuple[Tensor, Tensor]]) -> Tensor:
    """Mean angular distance arccos(cos)/pi between the pooled stack inputs x_a and x_b at every
    pair of depths a, b (what block a+1 reads and what block b writes), [L+1, L+1]."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    depth = model.depth
    total = torch.zeros(depth + 1, depth + 1, dtype=torch.float64)
    rows = 0
    try:
        for x, _ in batches:
            states = _PooledInputs(model)
            model.features_per_depth(x.to(device), on_step=states)
            h = torch.nn.functional.normalize(torch.stack(states.pooled), dim=-1)  # [L+1, B, D]
            cos = torch.einsum("abd,cbd->acb", h, h).clamp(-1.0, 1.0)
            total += (torch.arccos(cos) / math.pi).sum(dim=-1).cpu()
            rows += x.shape[0]
    finally:
        model.train(was_training)
    if rows == 0:
        raise ConfigError("angular distances need at least one input batch")
    return total / rows


def removal_plans(
    model: StackModel, batches: list[tuple[Tensor, Tensor]], n: int
) -> dict[str, list[int]]:
    """{"shortgpt": kept blocks, "angular": kept blocks} for removing ``n`` blocks of ``model``,
    both measured on the same calibration ``batches``."""
    bi = block_influence(model, batches)["chain"]
    return {
        "shortgpt": shortgpt_keep(bi, n),
        "angular": angular_keep(angular_distances(model, batches), n),
    }
