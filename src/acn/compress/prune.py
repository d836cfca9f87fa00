"""Global magnitude pruning of the block weights (the paper's Appendix G).

What is pruned: the weight matrices of every ``nn.Linear`` inside ``model.stack.blocks`` (for
transformers qkv, proj, fc1, fc2; for Mixers the token/channel MLPs and the tail Linear), with ONE
magnitude threshold over all of them, as the authors' research code does over the encoder layers'
Linear weights. Not pruned: biases, norms, the embedding, the head (and exit branches), and the
connectivity's own parameters (DenseFormer/DenseNet mixing weights).

The weights are really set to zero in a copy of the model: no ``torch.nn.utils.prune``
reparametrisation (``weight_orig`` + mask) is left behind, so the pruned model saves and loads
like any other and its sparsity is simply the zeros in its tensors.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError
from ..models.base import StackModel


def prunable_weights(model: StackModel) -> dict[str, nn.Parameter]:
    """Name -> weight of every Linear inside the blocks (names as in ``model.state_dict()``)."""
    out = {}
    for name, module in model.stack.blocks.named_modules():
        if isinstance(module, nn.Linear):
            out[f"stack.blocks.{name}.weight"] = module.weight
    return out


@dataclass
class Sparsity:
    """Zeros among the prunable block weights, and among all parameters."""

    zeros: int
    total: int
    zeros_all: int
    total_all: int

    @property
    def blocks(self) -> float:
        """Fraction of zero block weights (what the pruning level targets)."""
        return self.zeros / self.total if self.total else 0.0

    @property
    def overall(self) -> float:
        """Fraction of zero parameters in the whole model."""
        return self.zeros_all / self.total_all if self.total_all else 0.0


def measure_sparsity(model: StackModel) -> Sparsity:
    """Count the zeros the model's tensors really hold."""
    weights = prunable_weights(model).values()
    params = list(model.parameters())
    return Sparsity(
        zeros=sum(int((w == 0).sum()) for w in weights),
        total=sum(w.numel() for w in weights),
        zeros_all=sum(int((p == 0).sum()) for p in params),
        total_all=sum(p.numel() for p in params),
    )


@torch.no_grad()
def global_magnitude_prune(
    model: StackModel, sparsity: float, inplace: bool = False
) -> tuple[StackModel, Sparsity]:
    """Zero the ``sparsity`` fraction (0..1) of smallest-magnitude block weights, globally.

    Exactly ``round(sparsity * N)`` weights are zeroed (ties broken by position, so the result is
    deterministic). Returns the pruned model (a copy unless ``inplace``) and its measured sparsity.
    """
    if not 0.0 <= sparsity <= 1.0:
        raise ConfigError(f"sparsity must be a fraction in [0, 1], got {sparsity}")
    pruned = model if inplace else copy.deepcopy(model)
    weights = list(prunable_weights(pruned).values())
    if not weights:
        raise ConfigError("the model has no Linear weights in its blocks to prune")
    flat = torch.cat([w.detach().abs().flatten().float() for w in weights])
    n = round(sparsity * flat.numel())
    if n:
        drop = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
        drop[torch.argsort(flat, stable=True)[:n]] = True
        start = 0
        for w in weights:
            w.masked_fill_(drop[start : start + w.numel()].view_as(w), 0.0)
            start += w.numel()
    return pruned, measure_sparsity(pruned)
