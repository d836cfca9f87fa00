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

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..evaluation import IGNORE_INDEX, is_token_labels
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

    Token labels [B, T] (masked-LM) give the mean over the scored tokens (labels -100 are
    ignored) and the logits [M, V] of those M tokens; a batch with none scores 0 rather than
    nan."""
    if model.config.exit_branches:  # unused branch heads: untrained, and DDP fails on them
        raise ConfigError("the model has exit branches; train it with `loss: exits`")
    smoothing = cfg.optim.label_smoothing
    if targets.dim() == 2 and not targets.is_floating_point() and model.predicts_per_token:
        # masked-LM: the head runs only at the scored positions (15% of them), which is all the
        # loss reads; over every position it would cost as much as the encoder at vocab 8192
        scored = targets != IGNORE_INDEX
        features = model.call("forward_features", x)  # [B, T, D]: one pass, through DDP
        logits = model.forward_head(features[scored])  # [M, V]
        total = F.cross_entropy(
            logits.float(), targets[scored], reduction="sum", label_smoothing=smoothing
        )
        return total / scored.sum().clamp_min(1), logits
    logits = model(x)
    loss = F.cross_entropy(logits.float(), targets, label_smoothing=smoothing)
    return loss, logits


register_loss("ce", cross_entropy)
register_loss("exits", exits_loss)
register_loss("layerskip", layerskip_loss)


def num_targets(y: Tensor) -> Tensor:
    """How many targets a prepared batch's loss averages over: its rows, or its scored tokens
    for masked-LM token labels (the same count on every process: the global batch is shared).
    A 0-d float tensor on ``y``'s device, so that counting never waits for the device."""
    if is_token_labels(y):
        return (y != IGNORE_INDEX).sum().float()
    return torch.full((), float(len(y)), device=y.device)
