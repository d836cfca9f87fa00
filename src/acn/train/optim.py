"""AdamW (decay on every parameter as the authors' code, or only on weight matrices as ours) and a
per-step linear-warmup + cosine schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError
from ..models.base import StackModel
from ..runs.config import DECAY_PARAMS, OptimSection


def param_groups(model: StackModel, weight_decay: float, decay_params: str = "all") -> list[dict]:
    """The AdamW parameter groups for ``decay_params`` (``OptimSection.decay_params``).

    ``"all"``: one group, every parameter decayed - the authors' ``AdamW(model.parameters())``.
    ``"matrices"`` (ours, not the paper's): two groups, decayed weight matrices and everything
    else undecayed. Not decayed there (as timm and nanoGPT): parameters with fewer than 2
    dimensions (norm scales, biases, learned scalars), embedding tables, and whatever
    ``model.no_weight_decay()`` names (cls tokens, position embeddings) or the stack's
    ``no_weight_decay()`` (identity-initialised connection weights).
    """
    if decay_params not in DECAY_PARAMS:
        raise ConfigError(
            f"decay_params must be one of {', '.join(DECAY_PARAMS)}, got {decay_params!r}"
        )
    if decay_params == "all":
        trainable = [p for p in model.parameters() if p.requires_grad]
        return [{"params": trainable, "weight_decay": weight_decay}]
    skip = set(model.no_weight_decay()) | {f"stack.{n}" for n in model.stack.no_weight_decay()}
    for module_name, module in model.named_modules():
        if isinstance(module, nn.Embedding):
            skip.add(f"{module_name}.weight" if module_name else "weight")
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or name in skip else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: StackModel, cfg: OptimSection) -> torch.optim.AdamW:
    # The fused kernel does the whole update in one pass per tensor (CPU and CUDA); torch's
    # default on CPU is a Python loop of ~6 ops per parameter, a visible share of a small step.
    return torch.optim.AdamW(
        param_groups(model, cfg.weight_decay, cfg.decay_params),
        lr=cfg.lr,
        betas=tuple(cfg.betas),
        eps=cfg.eps,
        fused=next(model.parameters()).device.type in ("cpu", "cuda"),
    )


def carry_optimizer(
    old: torch.optim.Optimizer, model: StackModel, cfg: OptimSection
) -> torch.optim.AdamW:
    """A fresh optimizer over ``model``'s parameters (after a cut: :meth:`StackModel.cut_`)
    holding ``old``'s state (AdamW moments and step counts) for every parameter that survived;
    same hyper-parameters, grouping and current learning rate."""
    new = build_optimizer(model, cfg)
    for group, old_group in zip(new.param_groups, old.param_groups):
        group["lr"] = old_group["lr"]
        for p in group["params"]:
            if p in old.state:
                new.state[p] = old.state[p]
    return new


class WarmupCosine:
    """Learning rate per optimizer step: linear warmup from lr/warmup to lr, then cosine to min_lr.

    The authors' code warms up for 10 epochs, then anneals with a cosine to 1e-6; here both phases
    advance every step rather than every epoch, so short runs get a smooth schedule too. The
    state is one integer (steps taken), so resuming restores it exactly.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        lr: float,
        min_lr: float,
        warmup_steps: int,
        total_steps: int,
    ) -> None:
        self.optimizer = optimizer
        self.lr, self.min_lr = lr, min_lr
        self.warmup_steps, self.total_steps = warmup_steps, max(total_steps, 1)
        self.step_count = 0
        self._apply()

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        span = max(self.total_steps - self.warmup_steps, 1)
        progress = min((step - self.warmup_steps) / span, 1.0)
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))

    @property
    def current_lr(self) -> float:
        return self.lr_at(self.step_count)

    def step(self) -> None:
        """Advance one optimizer step (call after ``optimizer.step()``)."""
        self.step_count += 1
        self._apply()

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.current_lr

    def state_dict(self) -> dict[str, int]:
        return {"step_count": self.step_count}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.step_count = int(state["step_count"])
        self._apply()
