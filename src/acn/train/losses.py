"""Pluggable training losses, chosen by name in the config (``loss: ce``).

A loss is ``fn(model, x, targets, cfg) -> (loss, logits)``: ``model`` is a
:class:`~acn.train.distributed.TrainingModel` (call it once per step), ``targets`` are int labels
[B] or soft CutMix targets [B, C], ``cfg`` the whole :class:`~acn.train.config.TrainConfig`
(``cfg.loss_options`` holds the loss's own settings), and ``logits`` the full model's prediction
used for training accuracy. Other packages add losses with :func:`register_loss`; ``acn.exits`` is
imported on first lookup of an unknown name so that its losses register themselves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError

LossFn = Callable[[Any, Tensor, Tensor, Any], tuple[Tensor, Tensor]]

LOSSES: dict[str, LossFn] = {}

# packages whose import registers more losses; looked up only when a name is unknown
_PLUGINS = ("acn.exits",)


def register_loss(name: str, fn: LossFn | None = None):
    """Register ``fn`` under ``name`` (also usable as a decorator: ``@register_loss("x")``)."""

    def add(f: LossFn) -> LossFn:
        LOSSES[name] = f
        return f

    return add(fn) if fn is not None else add


def get_loss(name: str) -> LossFn:
    """The loss registered as ``name``; a one-line ConfigError listing the known ones if none."""
    if name not in LOSSES:
        for module in _PLUGINS:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as e:
                if e.name != module:  # the plugin exists but is broken: say so
                    raise
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; valid: {', '.join(sorted(LOSSES))}")
    return LOSSES[name]


def cross_entropy(model: Any, x: Tensor, targets: Tensor, cfg: Any) -> tuple[Tensor, Tensor]:
    """Cross-entropy of the full model, with the config's label smoothing (soft targets too)."""
    if model.config.exit_branches:  # unused branch heads: untrained, and DDP fails on them
        raise ConfigError("the model has exit branches; train it with `loss: exits`")
    logits = model(x)
    loss = F.cross_entropy(logits.float(), targets, label_smoothing=cfg.optim.label_smoothing)
    return loss, logits


register_loss("ce", cross_entropy)
