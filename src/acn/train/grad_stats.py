"""Per-block DG/FG gradient statistics measured on the training steps (``grad_stats: true``).

The authors' research trainer compares, at every step, each layer's direct (DG-only) gradient
with its full gradient on the channel MLP's first weight, and averages the cosine over the epoch's
steps. :class:`GradStats` does the same for every model family: at every ``grad_stats_every``-th
step, after the training backward (FG is then in ``.grad``, before clipping), one more forward and
backward of the same loss on the same batch with direct paths only
(:func:`acn.train.gradient_share.direct_paths_only`) gives DG. The pair is reduced on the device,
per block (:class:`acn.train.gradient_share.BlockLayout`), to

- ``dg_cosine``: cos(DG, FG) of the block's MLP first weight (the authors' statistic);
- ``dg_norm_ratio``: ||DG|| / ||FG|| over all the block's parameters;
- ``probe_grad_norm``: ||FG|| of the MLP first weight (the authors' gradient-norm heatmap; the
  norm over all the block's parameters, averaged over every step, is ``grad_norm_per_block``),

and :meth:`GradStats.read` returns their means over the measured steps since the last read (nan
for a block where a statistic was undefined at every measured step).

Measuring on the training steps, not on a fixed batch, is the authors' protocol, and it sees the
model as it moves through the epoch, with the training loss (label smoothing, CutMix targets,
dropout). The replayed pass draws exactly the random numbers the training pass drew (same dropout
masks; :func:`acn.train.rng.replay`) and leaves the random stream, the buffers and ``.grad`` as
they were, so a run trains identically with or without the measurement. Under DDP the direct
gradients are averaged over processes, as DDP averages the full ones. (The fixed-batch
measurement, ``dg_share`` at each evaluation, is :func:`direct_gradient_share`.)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..models.base import StackModel
from . import distributed as dist
from .gradient_share import BlockLayout, derived, direct_paths_only
from .rng import replay

KEYS = ("dg_cosine", "dg_norm_ratio", "probe_grad_norm")  # metrics.jsonl record keys
_ROWS = (0, 1, 3)  # their rows in gradient_share.derived


class GradStats:
    """Accumulates the statistics of the module docstring for ``model``; see :meth:`measure`."""

    def __init__(self, model: StackModel, every: int, ctx: dist.DistContext) -> None:
        self.model, self.every, self.ctx = model, every, ctx
        self.layout = BlockLayout(model.stack)
        self.reset()

    def reset(self) -> None:
        self._sum: Tensor | None = None
        self._count: Tensor | None = None

    def due(self, step: int) -> bool:
        """Whether global step ``step`` (0-based) is measured: a function of the step alone, so a
        resumed run measures the steps the uninterrupted one does."""
        return step % self.every == 0

    def measure(
        self,
        direct_loss: Callable[[], Tensor],
        rng: dict[str, Tensor],
        grad_scale: Tensor | None = None,
    ) -> None:
        """After the training backward: replay the loss (``direct_loss``, the same loss on the
        same rows, run on the plain model) with direct paths only, from the random state ``rng``
        the training forward started from, and accumulate the statistics against ``.grad``.
        ``grad_scale``: the factor ``direct_loss`` is multiplied by beyond the training loss
        (fp16 loss scaling), divided out of DG."""
        params = self.layout.params
        if not params:
            return
        device = params[0].device
        buffers = [b.clone() for b in self.model.buffers()]  # e.g. BatchNorm statistics
        with replay(rng, device), direct_paths_only(self.model.stack), torch.enable_grad():
            loss = direct_loss()
            direct = list(torch.autograd.grad(loss, params, allow_unused=True))
        with torch.no_grad():
            for b, saved in zip(self.model.buffers(), buffers):
                b.copy_(saved)
        if self.ctx.world_size > 1:
            direct = self._average(direct)
        sums = self.layout.sums(direct, [p.grad for p in params])
        if grad_scale is not None:
            inv = 1.0 / grad_scale.double()
            sums[0] *= inv
            sums[1] *= inv * inv
            sums[3] *= inv * inv
        values = derived(sums)[list(_ROWS)]
        finite = torch.isfinite(values)
        if self._sum is None:
            self._sum = torch.zeros_like(values)
            self._count = torch.zeros_like(values)
        self._sum += torch.where(finite, values, 0.0)
        self._count += finite.double()

    def _average(self, grads: list[Tensor | None]) -> list[Tensor]:
        """The mean over processes of every process's gradients (one all-reduce)."""
        full = [
            g if g is not None else torch.zeros_like(p) for g, p in zip(grads, self.layout.params)
        ]
        flat = torch.cat([g.reshape(-1) for g in full])
        dist.all_reduce_sum(flat, self.ctx)
        flat /= self.ctx.world_size
        return [part.view_as(g) for part, g in zip(flat.split([g.numel() for g in full]), full)]

    def read(self) -> dict[str, list[float]]:
        """Means over the measured steps since the last read (then reset); {} if none."""
        if self._sum is None or self._count is None:
            return {}
        nan = torch.full_like(self._sum, float("nan"))
        means = torch.where(self._count > 0, self._sum / self._count.clamp(min=1), nan)
        self.reset()
        return dict(zip(KEYS, means.tolist()))
