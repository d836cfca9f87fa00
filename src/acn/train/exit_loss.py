"""Training loss for early-exit models: a weighted sum of the cross-entropies of every exit.

Defaults are the paper's (App. H):

- ``shared``: exits at depths 1..L through the model's own head, weight of the output of layer
  l+1 (l = 0..L-1, the paper's index over layers) ``w_l = 2(l+1) / (L(L+1))``. The weights sum to
  1 and the last (full-model) output gets 2/(L+1).
- ``branches``: weights 0.8, 0.6, 0.4 on the branches (the paper's, for its three branches at 4,
  8, 12; for n != 3 branches, n weights evenly spaced from 0.8 down to 0.4) and 1 on the final
  head. Not normalised, as in the paper.

Every exit classifier of the model takes part in the loss (a weight of 0 still puts it in the
graph), so DDP sees every parameter used and needs no unused-parameter search. Registered with the
training loop as ``loss: exits``; ``loss_options`` are the fields of :class:`ExitLossConfig`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..models.exit_heads import Exit, logits_from_features, plan_exits

PAPER_BRANCH_WEIGHTS = (0.8, 0.6, 0.4)


@dataclass
class ExitLossConfig:
    """``heads``: auto (branches if the model has them, else shared), shared or branches.
    ``weights``: one per exit in order (branches: the branches then the final head); None = the
    paper's. ``label_smoothing``: None = the training config's."""

    heads: str = "auto"
    weights: list[float] | None = None
    label_smoothing: float | None = None

    def __post_init__(self) -> None:
        ls = self.label_smoothing
        if ls is not None and (not isinstance(ls, (int, float)) or not 0 <= ls < 1):
            raise ConfigError(f"exit loss label_smoothing must be in [0, 1), got {ls!r}")

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> ExitLossConfig:
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(
                f"unknown loss_options {', '.join(unknown)} for loss 'exits'; valid: {', '.join(known)}"
            )
        return cls(**options)


def loss_heads(model: Any, heads: str) -> str:
    """Resolve ``auto`` and refuse a loss that would leave the model's branches unused."""
    has_branches = bool(model.config.exit_branches)
    if heads == "auto":
        return "branches" if has_branches else "shared"
    if heads not in ("shared", "branches"):
        raise ConfigError(f"exit loss heads must be auto, shared or branches, got {heads!r}")
    if heads == "shared" and has_branches:
        raise ConfigError("the model has exit branches; train it with exit loss heads 'branches'")
    return heads


def default_weights(exits: list[Exit]) -> list[float]:
    """The paper's loss weights for ``exits`` (see the module docstring)."""
    if not exits[0].branch:  # shared: depths 1..L
        depth = len(exits)
        return [2 * (layer + 1) / (depth * (depth + 1)) for layer in range(depth)]
    n = sum(e.branch for e in exits)
    if n == len(PAPER_BRANCH_WEIGHTS):
        branch = list(PAPER_BRANCH_WEIGHTS)
    elif n == 1:
        branch = [PAPER_BRANCH_WEIGHTS[0]]
    else:
        hi, lo = PAPER_BRANCH_WEIGHTS[0], PAPER_BRANCH_WEIGHTS[-1]
        branch = [hi + (lo - hi) * i / (n - 1) for i in range(n)]
    return [*branch, 1.0]


def loss_weights(exits: list[Exit], weights: list[float] | None) -> list[float]:
    """``weights`` checked against ``exits`` (or the paper's defaults)."""
    if weights is None:
        return default_weights(exits)
    try:
        out = [float(w) for w in weights]
    except (TypeError, ValueError):
        raise ConfigError(f"exit loss weights must be numbers, got {weights!r}") from None
    if len(out) != len(exits):
        labels = ", ".join(e.label for e in exits)
        raise ConfigError(f"need {len(exits)} exit loss weights (for {labels}), got {len(out)}")
    if any(not math.isfinite(w) or w < 0 for w in out) or sum(out) <= 0:
        raise ConfigError(f"exit loss weights must be >= 0 with a positive sum, got {out}")
    return out


def weighted_exit_loss(
    logits: Tensor, targets: Tensor, weights: list[float], label_smoothing: float = 0.0
) -> Tensor:
    """sum_j weights[j] * CE(logits[j], targets) for per-exit logits [E, B, C], or per-token
    logits [E, B, T, V] with token labels [B, T] (-100 not scored), as the ``ce`` loss."""
    if logits.dim() == 4 and targets.dim() == 2 and not targets.is_floating_point():
        logits, targets = logits.flatten(1, 2), targets.flatten()
    total = logits.new_zeros((), dtype=torch.float32)
    for w, lj in zip(weights, logits):
        total = total + w * F.cross_entropy(lj.float(), targets, label_smoothing=label_smoothing)
    return total


def exits_loss(model: Any, x: Tensor, targets: Tensor, cfg: Any) -> tuple[Tensor, Tensor]:
    """The training loop's ``loss: exits``: one forward (through DDP when distributed), every
    exit scored; returns (loss, the full model's logits)."""
    opts = ExitLossConfig.from_options(dict(getattr(cfg, "loss_options", None) or {}))
    heads = loss_heads(model, opts.heads)
    if model.predicts_per_token and heads == "shared":  # language models: every depth's LM head
        exits = [Exit(d) for d in range(1, model.depth + 1)]
    else:
        exits = plan_exits(model, heads)
    weights = loss_weights(exits, opts.weights)
    smoothing = opts.label_smoothing
    if smoothing is None:
        smoothing = cfg.optim.label_smoothing if hasattr(cfg, "optim") else 0.0
    logits = logits_from_features(model, model.features_per_depth(x), exits)
    return weighted_exit_loss(logits, targets, weights, smoothing), logits[-1]
