"""Movement pruning (Sanh et al. 2020) as the paper's second pruning method (its App. G).

The authors' research code prunes while it fine-tunes: every weight of the prunable set (the
Linear weights inside the blocks, :func:`acn.compress.prune.prunable_weights`, the same set as
magnitude pruning) carries a score, ``|W * dL/dW|`` accumulated over every training step; after
an epoch, ONE global threshold over the scores of all those weights removes the lowest-scored
ones until the requested share of them is zero. A removed weight stays removed: its mask is
applied to the weight, to every later gradient and to AdamW's moment estimates, so no optimizer
step can move it off zero (weight decay keeps a zero at zero).

The schedule is a list of cumulative sparsities, one per epoch: the paper's setting I prunes 20%
more after each epoch (``[0.2, 0.4, 0.6, 0.8]``), setting II 40% after one epoch (``[0.4]``).
Each level is scored after one epoch of fine-tuning at that level (just before the next pruning),
the last after ``recovery_epochs``, so the curve has one point per level plus the dense model
after the first epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data import Batches
from ..errors import ConfigError
from ..models.base import StackModel
from ..runs.config import OptimSection
from ..runs.inputs import TrainData
from ..train.optim import WarmupCosine, build_optimizer
from ..train.rng import augment_seed
from .prune import prunable_weights

# the AdamW state tensors shaped like the weight (masked with it)
_MOMENTS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")


class MovementPruner:
    """Scores, masks and the global threshold of movement pruning over ``model``'s block weights.

    After each backward call :meth:`after_backward` (accumulates ``|W * grad|`` and masks the
    gradients); after an epoch :meth:`prune_to` (raises the sparsity, masking weights and the
    optimizer's moments)."""

    def __init__(self, model: StackModel) -> None:
        self.weights = list(prunable_weights(model).values())
        if not self.weights:
            raise ConfigError("the model has no Linear weights in its blocks to prune")
        self.scores = [torch.zeros_like(w, dtype=torch.float32) for w in self.weights]
        self.masks = [torch.ones_like(w, dtype=torch.bool) for w in self.weights]

    @property
    def total(self) -> int:
        return sum(w.numel() for w in self.weights)

    @property
    def pruned(self) -> int:
        return sum(int((~m).sum()) for m in self.masks)

    @torch.no_grad()
    def after_backward(self) -> None:
        """Accumulate the scores of this step and zero the pruned weights' gradients."""
        for w, score, mask in zip(self.weights, self.scores, self.masks):
            if w.grad is None:
                continue
            score += (w.detach() * w.grad).abs().float()
            w.grad.mul_(mask)

    @torch.no_grad()
    def prune_to(self, sparsity: float, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Zero the lowest-scored weights, globally, until ``round(sparsity * N)`` of the N
        prunable weights are zero (ties broken by position; pruned weights stay pruned); the
        masks also go into the weights' AdamW moments."""
        if not 0.0 <= sparsity <= 1.0:
            raise ConfigError(f"sparsity must be a fraction in [0, 1], got {sparsity}")
        more = round(sparsity * self.total) - self.pruned
        if more > 0:
            # pruned weights sort first (score -inf), then the rest by score, stably by position
            flat = torch.cat(
                [
                    s.flatten().masked_fill(~m.flatten(), -math.inf)
                    for s, m in zip(self.scores, self.masks)
                ]
            )
            drop = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
            drop[torch.argsort(flat, stable=True)[: self.pruned + more]] = True
            start = 0
            for i, w in enumerate(self.weights):
                self.masks[i] = ~drop[start : start + w.numel()].view_as(w)
                start += w.numel()
        for w, mask in zip(self.weights, self.masks):
            w.mul_(mask)
            if w.grad is not None:
                w.grad.mul_(mask)
            state = optimizer.state.get(w, {}) if optimizer is not None else {}
            for key in _MOMENTS:
                if isinstance(state.get(key), Tensor):
                    state[key].mul_(mask)

    @property
    def sparsity(self) -> float:
        return self.pruned / self.total


@dataclass
class MovementSettings:
    """How :func:`movement_prune` fine-tunes: AdamW at ``lr`` with a cosine decay to 0 over the
    whole schedule (no warmup), ``batch_size`` rows per step, ``recovery_epochs`` after the last
    pruning, ``seed`` for the batch order and dropout."""

    lr: float = 1e-4
    weight_decay: float = 0.01
    batch_size: int = 32
    recovery_epochs: int = 1
    seed: int = 0

    def validate(self) -> MovementSettings:
        if not 0 < self.lr < math.inf:
            raise ConfigError(f"the fine-tuning lr must be > 0, got {self.lr}")
        if not 0 <= self.weight_decay < math.inf:
            raise ConfigError(f"weight decay must be >= 0, got {self.weight_decay}")
        if self.batch_size < 1 or self.recovery_epochs < 1:
            raise ConfigError("batch_size and recovery_epochs must be >= 1")
        return self


def movement_prune(
    model: StackModel,
    data: TrainData,
    levels: Sequence[float],
    settings: MovementSettings | None = None,
    *,
    device: torch.device | None = None,
    on_level: Callable[[float, StackModel], None] | None = None,
) -> StackModel:
    """Fine-tune ``model`` (in place) on ``data``'s training split with movement pruning to the
    cumulative sparsities ``levels`` (one per epoch; module docstring) and return it.

    ``on_level(sparsity, model)`` is called with the model at each point of the curve: the dense
    model after the first epoch (sparsity 0), each level after the epoch that follows its pruning
    (just before the next one) and the last level after ``recovery_epochs``. The final model
    keeps its masks' zeros (no reparametrisation is left behind)."""
    settings = (settings or MovementSettings()).validate()
    levels = list(levels)
    if not levels or any(not 0 < s <= 1 for s in levels) or levels != sorted(levels):
        raise ConfigError(f"movement levels must rise within (0, 1], got {levels}")
    device = device or next(model.parameters()).device
    pruner = MovementPruner(model)
    optim = OptimSection(lr=settings.lr, weight_decay=settings.weight_decay, min_lr=0.0)
    optimizer = build_optimizer(model, optim)
    train_split = data.splits.train
    batches = Batches(train_split, settings.batch_size, shuffle=True, seed=settings.seed)
    steps = math.ceil(len(train_split) / settings.batch_size)
    epochs = len(levels) + settings.recovery_epochs
    schedule = WarmupCosine(optimizer, settings.lr, 0.0, 0, epochs * steps)
    num_classes = model.config.num_classes
    torch.manual_seed(settings.seed)  # dropout
    current = 0.0  # the sparsity the model has reached
    for epoch in range(1, epochs + 1):
        model.train()
        batches.set_epoch(epoch - 1)
        gen = torch.Generator().manual_seed(augment_seed(settings.seed, epoch - 1))
        for _, (x, y) in zip(range(steps), batches):
            x, y = data.prepare(x.to(device), y.to(device), True, gen, num_classes)
            loss = F.cross_entropy(model(x).float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            pruner.after_backward()
            optimizer.step()
            schedule.step()
        # a point of the curve: the model trained for an epoch at the sparsity it has reached
        # (the last level after its recovery epochs), then the next pruning
        if on_level is not None and (epoch <= len(levels) or epoch == epochs):
            on_level(current, model.eval())
        if epoch <= len(levels):
            pruner.prune_to(levels[epoch - 1], optimizer)
            current = levels[epoch - 1]
    return model.eval()


def count_nonzero(module: nn.Module) -> int:
    """Non-zero entries of ``module``'s parameters (tied weights counted once)."""
    return sum(int(torch.count_nonzero(p)) for p in module.parameters())
