"""Gradient norms per block (the paper's Fig. 1 heatmap) and gradient clipping, from one fused norm.

After each backward, :meth:`GradNorms.measure` takes the L2 norm of every parameter's gradient
in one ``torch._foreach_norm`` call, sums the squares per block on the device (no host sync),
and returns the global norm that clipping uses. Per-block norms are averaged over the steps since
the last :meth:`GradNorms.read`, which the training loop calls at each evaluation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.distributed.tensor import DTensor

from ..models.base import StackModel
from .fsdp import local


def _norms(grads: list[Tensor]) -> Tensor:
    return torch.stack(torch._foreach_norm(grads)).float()


def clip_with_norm(params: list[nn.Parameter], max_norm: float, total: Tensor) -> None:
    """Scale gradients so their global norm is at most ``max_norm`` (as ``clip_grad_norm_``;
    FSDP: each rank scales its shards)."""
    grads = [local(p.grad) for p in params if p.grad is not None]
    if not grads:
        return
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    torch._foreach_mul_(grads, coef.to(grads[0].dtype))


class GradNorms:
    """Per-block gradient norms of ``model`` averaged over steps; see the module docstring."""

    def __init__(self, model: StackModel) -> None:
        block_of = {}
        for i, block in enumerate(model.stack.blocks):
            for p in block.parameters():
                block_of[id(p)] = i
        self.num_blocks = model.depth
        self.params = [p for p in model.parameters() if p.requires_grad]
        # bucket per parameter: its block, or num_blocks for embedding / norm / head
        self.bucket = torch.tensor(
            [block_of.get(id(p), self.num_blocks) for p in self.params], dtype=torch.long
        )
        self._bucket_on = self.bucket
        self.reset()

    def _device_bucket(self, device: torch.device) -> Tensor:
        if self._bucket_on.device != device:
            self._bucket_on = self.bucket.to(device)
        return self._bucket_on

    def reset(self) -> None:
        self._sum: Tensor | None = None
        self._steps: Tensor | None = None

    def measure(self) -> Tensor:
        """Global gradient norm (0-d tensor) after accumulating this step's per-block norms.

        Steps whose gradients are not finite (fp16 overflow, which GradScaler skips) are left out
        of the average.
        """
        grads = [p.grad for p in self.params]
        sharded = any(isinstance(g, DTensor) for g in grads)
        grads = [None if g is None else local(g) for g in grads]  # FSDP: this rank's shards
        if all(g is not None for g in grads):
            index = self._device_bucket(grads[0].device) if grads else None
        else:  # some parameters got no gradient this step
            index = self.bucket[[g is not None for g in grads]]
            grads = [g for g in grads if g is not None]
        if not grads:
            return torch.zeros(())
        device = grads[0].device
        squares = _norms(grads).pow(2)
        index = index.to(device)
        per_bucket = torch.zeros(self.num_blocks + 1, device=device).index_add_(0, index, squares)
        if sharded:  # sums of squares of the shards: the whole gradient's
            torch.distributed.all_reduce(per_bucket)
        total = per_bucket.sum().sqrt()
        finite = torch.isfinite(total)
        per_block = torch.where(finite, per_bucket[: self.num_blocks].sqrt(), 0.0)
        if self._sum is None:
            self._sum = torch.zeros_like(per_block)
            self._steps = torch.zeros((), device=device)
        self._sum += per_block
        self._steps += finite.float()
        return total

    def read(self) -> list[float]:
        """Mean per-block norm since the last read (then reset); zeros if no step was measured."""
        if self._sum is None or float(self._steps) == 0:
            values = [0.0] * self.num_blocks
        else:
            values = (self._sum / self._steps).tolist()
        self.reset()
        return values
