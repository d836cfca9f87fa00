"""Training FLOPs, counted rather than estimated from epochs.

The first time the loop takes a step at a given (model depth, global batch rows), one real
training step -- the configured loss's forward AND its backward -- is run on a copy of the model
under ``torch.utils.flop_counter.FlopCounterMode`` and the count is cached; every step then adds
the cached count for its key. So a run whose depth changes (``--auto-cut``) is charged what each
of its steps actually cost. Conventions are the library's (:mod:`acn.compress.flops`): FLOPs are
2 x multiply-adds of matrix products; the backward pass is counted op by op (about 2x the
forward for Linear layers, so a step is about 3x the forward; the test checks that). The
optimizer update, norms and activations are elementwise and count zero. Under DDP the count is
for the global batch (all processes together). torch registers no formula for its CPU attention
kernel, so attention matmuls of ViT/BERT count zero when training on CPU (the Mixer has none).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from ..models.base import StackModel
from .distributed import DistContext, TrainingModel


def step_flops(model: StackModel, loss_fn: Any, cfg: Any, x: Tensor, y: Tensor) -> int:
    """FLOPs of one training step (loss forward + backward) of ``model`` on prepared ``(x, y)``.

    Runs on a deep copy with the RNG state forked, so the run's weights, gradients and random
    streams are untouched (a counted run stays bitwise identical to an uncounted one)."""
    twin = copy.deepcopy(model).train()
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), FlopCounterMode(display=False) as counter:
        loss, _ = loss_fn(TrainingModel(twin, DistContext(), x.device), x, y, cfg)
        loss.backward()
    return int(counter.get_total_flops())


class TrainFlops:
    """Running total of training FLOPs (see the module docstring)."""

    def __init__(self, loss_fn: Any, cfg: Any) -> None:
        self.loss_fn, self.cfg = loss_fn, cfg
        self.total = 0
        self.per_step: dict[tuple[int, int], int] = {}  # (depth, global rows) -> FLOPs

    def add(self, model: StackModel, x: Tensor, y: Tensor) -> None:
        """Charge one step of ``model`` on the global batch ``(x, y)`` (host-side only after the
        first step at this depth and batch size)."""
        key = (model.depth, len(x))
        if key not in self.per_step:
            self.per_step[key] = step_flops(model, self.loss_fn, self.cfg, x, y)
        self.total += self.per_step[key]

    def state_dict(self) -> dict[str, int]:
        return {"train_flops": self.total}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total = int(state.get("train_flops", 0))
