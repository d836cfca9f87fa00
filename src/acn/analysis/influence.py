"""Block influence (ShortGPT's BI): how much a block changes the representation, 1 - cos.

Two readings per block i = 1..L, both averaged over every token (or every vector) of every sample:

- ``chain``: 1 - cos(x_{i-1}, x_i), between what block i reads and what it writes (the stack
  state ``h`` before and after it). For ``residual`` this is ShortGPT's BI on the residual stream;
  for ``acn`` it compares consecutive layer outputs of the chain x_i = f_i(x_{i-1}).
- ``readout``: 1 - cos(r_{i-1}, r_i) between what the head reads at depth i-1 and at depth i
  (the stack state ``out``): the partial sums x_0 + ... + x_i for ``acn``, the stream for
  ``residual`` (where it equals ``chain``). This is what truncating before block i removes.

Both come from the states of the one per-depth pass (:meth:`StackModel.features_per_depth`'s
``on_step`` hook); cosines are row-wise along the feature axis, never a token-by-token matrix.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..connectivity import StackState
from ..models.base import StackModel


def one_minus_cos(a: Tensor, b: Tensor) -> Tensor:
    """1 - cos(a, b) along the last axis, one value per row (token), in float32 or wider."""
    dtype = torch.promote_types(a.dtype, torch.float32)
    return 1 - F.cosine_similarity(a.to(dtype), b.to(dtype), dim=-1)


class BlockInfluence:
    """Accumulates ``chain`` and ``readout`` BI per block; pass it as ``on_step`` to a per-depth pass.

    Sums stay on the model's device until :meth:`result`, so measuring adds no host syncs.
    """

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self._chain: Tensor | None = None
        self._readout: Tensor | None = None
        self._rows = [0] * depth

    def __call__(self, before: StackState, after: StackState) -> None:
        i = after.depth - 1
        chain = one_minus_cos(before.h, after.h)
        if self._chain is None:
            self._chain = torch.zeros(self.depth, dtype=torch.float64, device=chain.device)
            self._readout = torch.zeros_like(self._chain)
        self._chain[i] += chain.sum(dtype=torch.float64)
        self._readout[i] += one_minus_cos(before.out, after.out).sum(dtype=torch.float64)
        self._rows[i] += chain.numel()

    def result(self) -> dict[str, list[float]]:
        """{"chain": [L floats], "readout": [L floats]}, the means over all rows seen."""
        if self._chain is None:
            return {"chain": [float("nan")] * self.depth, "readout": [float("nan")] * self.depth}
        rows = torch.tensor(self._rows, dtype=torch.float64, device=self._chain.device)
        return {
            "chain": (self._chain / rows).tolist(),
            "readout": (self._readout / rows).tolist(),
        }


@torch.no_grad()
def block_influence(
    model: StackModel, batches: Iterable[tuple[Tensor, Tensor]]
) -> dict[str, list[float]]:
    """BI per block of ``model`` over the inputs of ``batches`` ((x, y) pairs; y is unused)."""
    device = next(model.parameters()).device
    was_training = model.training
    meter = BlockInfluence(model.depth)
    model.eval()
    try:
        for x, _ in batches:
            model.features_per_depth(x.to(device), on_step=meter)
    finally:
        model.train(was_training)
    return meter.result()
