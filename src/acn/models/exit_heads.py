"""Where a model can exit, and the logits of every exit from ONE forward pass.

An *exit* is a depth plus the classifier read there:

- ``shared``: the model's own pool -> norm -> head at every depth 1..L (the paper's Shared EE
  Head, as in LayerSkip). Depth 0 (the embedding alone) is not an exit: the paper's shared-head
  loss runs over the outputs of layers 1..L only.
- ``branches``: the model's branch classifiers (``config.exit_branches``, e.g. 4, 8, 12), each on
  the pooled, normed feature at its depth (BranchyNet / the paper's branches), then the model's
  own head at depth L.
- ``final``: only the model's own head at depth L (no early exit; with a calibrated global cutoff
  this single exit moves to a depth k < L, the paper's "AC-Mixer with a global cutoff").

Every exit reads what the stack's :meth:`read` gives at its depth (the partial sum for ACNs, the
residual stream for residual models), pooled and normed exactly as the final head reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..connectivity import check_depth
from ..errors import ConfigError
from .base import StackModel

HEADS = ("final", "shared", "branches")


@dataclass(frozen=True)
class Exit:
    """One exit: after ``depth`` blocks, through the model's head (``branch=False``) or through
    the branch classifier at that depth."""

    depth: int
    branch: bool = False

    @property
    def label(self) -> str:
        return f"b{self.depth}" if self.branch else f"h{self.depth}"


def check_classifier(model: StackModel) -> None:
    """Early exit needs one prediction per sample: a classification head on pooled features."""
    if model.predicts_per_token:
        raise ConfigError(
            f"early exit needs a classification model; {model.config.name or model.family!r} "
            "predicts per token"
        )


def plan_exits(model: StackModel, heads: str, cutoff: int | None = None) -> list[Exit]:
    """The exits of ``model`` in the order a sample meets them (see the module docstring).

    ``cutoff`` (only with ``heads="final"``) moves the single exit to that depth.
    """
    check_classifier(model)
    depth = model.depth
    if heads not in HEADS:
        raise ConfigError(f"unknown exit heads {heads!r}; choose one of {', '.join(HEADS)}")
    if cutoff is not None and heads != "final":
        raise ConfigError("a global cutoff applies to exit heads 'final' only")
    if heads == "final":
        return [Exit(depth if cutoff is None else check_depth(cutoff, depth))]
    if depth < 1:
        raise ConfigError("early exit needs a model with at least one block")
    if heads == "shared":
        return [Exit(d) for d in range(1, depth + 1)]
    if not model.config.exit_branches:
        raise ConfigError(
            "this model has no exit branches; build it with exit_branches=[...] "
            "(e.g. `acn train CONFIG --model.overrides.exit_branches=[2,4,6]`)"
        )
    return [Exit(d, branch=True) for d in model.config.exit_branches] + [Exit(depth)]


def exit_classifier(model: StackModel, e: Exit) -> nn.Module:
    """The module that turns the pooled, normed feature at ``e.depth`` into logits."""
    return model.branches[str(e.depth)] if e.branch else model.head


def logits_from_features(model: StackModel, features: Tensor, exits: Sequence[Exit]) -> Tensor:
    """Logits of every exit [E, B, C] from the per-depth features [L+1, B, h] of one pass."""
    return torch.stack([exit_classifier(model, e)(features[e.depth]) for e in exits])


def exit_logits(model: StackModel, x: Tensor, exits: Sequence[Exit]) -> Tensor:
    """Logits of every exit, stacked [E, B, C], from ONE pass (``features_per_depth``)."""
    return logits_from_features(model, model.features_per_depth(x), exits)
