"""What a training run will cost, checked before it starts: a typo in a model size must be a
one-line error, not an out-of-memory kill minutes later.

The estimate: float32 weights, gradients and AdamW's two moments,
plus the outputs of every leaf module for one training batch (what autograd keeps for the
backward pass), measured by a forward pass on the ``meta`` device (no memory, no compute).
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
        with torch.device("meta"), torch.random.fork_rng(devices=[]), torch.no_grad():
            model(model.example_input(batch_size))
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
    on ``device``; returns the estimate in bytes."""
    model = meta_model(*preset_values(name, connectivity, **values))
    n = model.num_params()
    need = n * TRAIN_BYTES_PER_PARAM + (activation_bytes(model, batch_size) or 0)
    free = available_memory(device)
    if free is not None and need > free:
        raise ConfigError(
            f"training {name} ({n:,} parameters, batch {batch_size}) needs at least "
            f"{need / 2**30:.1f} GiB but {free / 2**30:.1f} GiB is free on {device}; "
            "choose smaller model sizes or batch_size"
        )
    return need
