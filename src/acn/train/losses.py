"""Pluggable training losses, chosen by name in the config (``loss: ce``).

A loss is ``fn(model, x, targets, cfg) -> (loss, logits)``: ``model`` is a
:class:`~acn.train.distributed.TrainingModel` (call it once per step), ``targets`` are int labels
[B], soft CutMix targets [B, C] or masked-LM token labels [B, T] (-100 where not scored), ``cfg`` the whole :class:`~acn.runs.config.TrainConfig`
(``cfg.loss_options`` holds the loss's own settings), and ``logits`` the full model's prediction
used for training accuracy. The built-in losses (``ce``, the early-exit ``exits`` and
``layerskip``) are registered below; user code adds its own with :func:`register_loss`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..evaluation import IGNORE_INDEX
from .exit_loss import exits_loss
from .layerskip import layerskip_loss

LossFn = Callable[[Any, Tensor, Tensor, Any], tuple[Tensor, Tensor]]

LOSSES: dict[str, LossFn] = {}


def register_loss(name: str, fn: LossFn | None = None):
    """Register ``fn`` under ``name`` (also usable as a decorator: ``@register_loss("x")``)."""

    def add(f: LossFn) -> LossFn:
        LOSSES[name] = f
        return f

    return add(fn) if fn is not None else add


def get_loss(name: str) -> LossFn:
    """The loss registered as ``name``; a one-line ConfigError listing the known ones if none."""
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; valid: {', '.join(sorted(LOSSES))}")
    return LOSSES[name]


def cross_entropy(model: Any, x: Tensor, targets: Tensor, cfg: Any) -> tuple[Tensor, Tensor]:
    """Cross-entropy of the full model, with the config's label smoothing (soft targets too).

    Token logits [B, T, V] with token labels [B, T] are flattened: the mean over the scored
    tokens (labels -100 are ignored); a batch with none scores 0 rather than nan."""
    if model.config.exit_branches:  # unused branch heads: untrained, and DDP fails on them
        raise ConfigError("the model has exit branches; train it with `loss: exits`")
    logits = model(x)
    smoothing = cfg.optim.label_smoothing
    if logits.dim() == 3 and targets.dim() == 2 and not targets.is_floating_point():
        flat, labels = logits.flatten(0, 1).float(), targets.flatten()
        total = F.cross_entropy(
            flat, labels, ignore_index=IGNORE_INDEX, reduction="sum", label_smoothing=smoothing
        )
        return total / (labels != IGNORE_INDEX).sum().clamp_min(1), logits
    loss = F.cross_entropy(logits.float(), targets, label_smoothing=smoothing)
    return loss, logits


register_loss("ce", cross_entropy)
register_loss("exits", exits_loss)
register_loss("layerskip", layerskip_loss)
