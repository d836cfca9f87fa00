"""What a training run will cost, checked before it starts: a typo in a model size must be a
one-line error, not an out-of-memory kill minutes later.

The estimate: float32 weights, gradients and AdamW's two moments, plus (for models big enough
that it may matter, see ACTIVATION_CHECK_RATIO) the outputs of every leaf module for one training
batch (what autograd keeps for the backward pass), measured by a forward pass on the ``meta``
device (no memory, no compute).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..models.base import StackModel
from ..models.registry import meta_model, preset_values
from ..utils import available_memory

TRAIN_BYTES_PER_PARAM = 16  # float32 weights + gradients + AdamW's exp_avg and exp_avg_sq
# Activations are estimated only for models whose weights alone take more than 1/64 of the free
# memory: torch's meta shape functions import torch._dynamo (~3 s) on first use, a cost every
# small run would pay for nothing. (A huge activation footprint comes with big weights in these
# families: token count and widths are in the weight shapes.)
ACTIVATION_CHECK_RATIO = 64


def activation_bytes(model: StackModel, batch_size: int) -> int | None:
    """Bytes of the leaf modules' outputs for one forward pass of ``batch_size`` examples on a
    meta-device ``model``; None if the model cannot run on the meta device."""
    total = 0

    def count(module: nn.Module, inputs: Any, output: Any) -> None:
        nonlocal total
        given = {id(t) for t in inputs}
        for t in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(t, torch.Tensor) and id(t) not in given:  # Identity: no new memory
                total += t.numel() * t.element_size()

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        # a real (small) example input moved to meta: with meta weights, torch runs its fast
        # shape functions (under a meta device context it would trace Python decompositions)
        with torch.random.fork_rng(devices=[]):
            x = model.example_input(batch_size).to("meta")
        with torch.no_grad():
            model(x)
    except Exception:  # data-dependent code cannot run on meta: fall back to the weights alone
        return None
    finally:
        for h in handles:
            h.remove()
    return total


def check_training_memory(
    name: str, connectivity: str, values: dict[str, Any], device: torch.device, batch_size: int
) -> int:
    """Refuse (ConfigError) a run whose estimated memory (module docstring) exceeds what is free
    on ``device``; returns the estimate in bytes (activations only where they are measured)."""
    model = meta_model(*preset_values(name, connectivity, **values))
    n = model.num_params()
    need, free = n * TRAIN_BYTES_PER_PARAM, available_memory(device)
    if free is None:
        return need
    if need * ACTIVATION_CHECK_RATIO > free:  # the meta forward costs seconds on first use
        need += activation_bytes(model, batch_size) or 0
    if need > free:
        raise ConfigError(
            f"training {name} ({n:,} parameters, batch {batch_size}) needs at least "
            f"{need / 2**30:.1f} GiB but {free / 2**30:.1f} GiB is free on {device}; "
            "choose smaller model sizes or batch_size"
        )
    return need
