"""Training FLOPs, counted rather than estimated from epochs.

The first time the loop takes a step at a given (model depth, global batch rows), the forward
pass of that very step -- the configured loss's, through DDP, exits included -- runs under
``torch.utils.flop_counter.FlopCounterMode``; the per-process counts are summed over processes
(the global batch) and cached, and every step then adds the cached count for its key. So a run
whose depth changes (``--auto-cut``) is charged what each of its steps cost at the depth it had.

A training step is charged 3x its counted forward: the backward of a matrix product is two
products of the same size (input and weight gradient). :func:`step_flops` counts a real
forward + backward op by op for comparison (the demo Mixer: 2.99x its forward; a little under
3x because the first layer needs no input gradient). Conventions are the library's
(:mod:`acn.compress.flops`): FLOPs are 2 x multiply-adds of matrix products; norms, activations
and the optimizer update count zero. torch registers no formula for its CPU attention kernel, so
attention matmuls of ViT/BERT count zero when training on CPU (the Mixer has none).
"""

from __future__ import annotations

import copy
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from ..models.base import StackModel
from . import distributed as dist

BACKWARD_FACTOR = 3  # forward + backward = 3 x forward (see the module docstring)


def step_flops(model: StackModel, loss_fn: Any, cfg: Any, x: Tensor, y: Tensor) -> int:
    """FLOPs of one real training step (loss forward + backward, counted op by op) of
    ``model`` on prepared ``(x, y)``; runs on a deep copy with the RNG state forked."""
    twin = copy.deepcopy(model).train()
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), FlopCounterMode(display=False) as counter:
        loss, _ = loss_fn(dist.TrainingModel(twin, dist.DistContext(), x.device), x, y, cfg)
        loss.backward()
    return int(counter.get_total_flops())


class _Count(AbstractContextManager):
    """Counts the forward pass it wraps, then records the step's FLOPs (summed over processes)."""

    def __init__(self, owner: TrainFlops, key: tuple[int, int], ctx: dist.DistContext, device):
        self.owner, self.key, self.ctx, self.device = owner, key, ctx, device
        self.mode = FlopCounterMode(display=False)

    def __enter__(self) -> _Count:
        self.mode.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.mode.__exit__(*exc)
        if exc[0] is not None:
            return
        local = torch.tensor([self.mode.get_total_flops()], dtype=torch.int64, device=self.device)
        forward = int(dist.all_reduce_sum(local, self.ctx).item())
        self.owner.per_step[self.key] = BACKWARD_FACTOR * forward
        self.owner.total += self.owner.per_step[self.key]


class TrainFlops:
    """Running total of training FLOPs (see the module docstring)."""

    def __init__(self) -> None:
        self.total = 0
        self.per_step: dict[tuple[int, int], int] = {}  # (depth, global rows) -> FLOPs

    def counting(
        self, model: StackModel, rows: int, ctx: dist.DistContext, device: torch.device
    ) -> AbstractContextManager:
        """Wrap a step's forward pass in this: charges the step (host-side only, except the first
        step at each (depth, global rows), which is counted; every process gets there together)."""
        key = (model.depth, rows)
        if key in self.per_step:
            self.total += self.per_step[key]
            return nullcontext()
        return _Count(self, key, ctx, device)

    def state_dict(self) -> dict[str, int]:
        return {"train_flops": self.total}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total = int(state.get("train_flops", 0))
