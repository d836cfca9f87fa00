"""LayerSkip training (Elhoushi et al. 2024) as the paper's transfer baseline: layer dropout plus
an early-exit loss through the shared head with a rotational curriculum.

- Layer dropout: block l (0-based) is skipped for a sample with probability
  ``p_max * (exp(l ln2 / (L-1)) - 1)``: 0 for the first block, ``p_max`` for the last (the rates
  of the authors' research code; per sample, drawn from the global RNG so a resumed run repeats
  them). A skipped residual block passes its input through.
- Early-exit loss: the shared head reads every depth 1..L; depth l+1 has the scale
  ``e_scale * sum_{i<=l} i`` and the last ``L-1 + e_scale * sum_{i<=L-2} i`` (LayerSkip's e(t,l)),
  only the exits the curriculum enables at this step count, and the enabled scales are normalised
  to sum to 1.
- Rotational curriculum: every ``rotation``-th depth is enabled (plus the last), the phase
  rotating over steps. LayerSkip uses phase = step mod R; here the phase is drawn uniformly each
  step (the loss sees no step counter), so every exit is on for 1/R of the steps either way.

Registered with the training loop as ``loss: layerskip``; ``loss_options`` are the fields of
:class:`LayerSkipConfig`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor

from ..errors import ConfigError
from .exit_loss import weighted_exit_loss


@dataclass
class LayerSkipConfig:
    p_max: float = 0.1
    e_scale: float = 0.2
    rotation: int = 4
    label_smoothing: float | None = None  # None: the training config's

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> LayerSkipConfig:
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(
                f"unknown loss_options {', '.join(unknown)} for loss 'layerskip'; "
                f"valid: {', '.join(known)}"
            )
        out = cls(**options)
        if not 0 <= out.p_max < 1 or out.e_scale < 0 or out.rotation < 1:
            raise ConfigError("layerskip needs 0 <= p_max < 1, e_scale >= 0 and rotation >= 1")
        return out


def dropout_rates(depth: int, p_max: float) -> list[float]:
    """Skip probability of block l = 0..L-1: p_max * (exp(l ln2 / (L-1)) - 1)."""
    if depth <= 1:
        return [0.0] * depth
    return [p_max * (math.exp(layer * math.log(2) / (depth - 1)) - 1) for layer in range(depth)]


def rotation_mask(depth: int, rotation: int, phase: int) -> list[bool]:
    """Exits enabled at this step: depth index l where (l - phase) mod R == 0, and the last."""
    return [(layer - phase) % rotation == 0 or layer == depth - 1 for layer in range(depth)]


def exit_scales(depth: int, e_scale: float, enabled: list[bool]) -> list[float]:
    """LayerSkip's normalised early-exit loss scales of depths 1..L."""
    raw = [e_scale * sum(range(layer + 1)) for layer in range(depth - 1)]
    raw.append(depth - 1 + e_scale * sum(range(depth - 1)))
    masked = [r if on else 0.0 for r, on in zip(raw, enabled)]
    total = sum(masked)
    if total <= 0:  # depth 1: the only exit is the model's output
        return [1.0 if on else 0.0 for on in enabled]
    return [m / total for m in masked]


def layerskip_loss(model: Any, x: Tensor, targets: Tensor, cfg: Any) -> tuple[Tensor, Tensor]:
    """The training loop's ``loss: layerskip`` (see the module docstring)."""
    opts = LayerSkipConfig.from_options(dict(getattr(cfg, "loss_options", None) or {}))
    depth, rows = model.depth, x.shape[0]
    rates = torch.tensor(dropout_rates(depth, opts.p_max)).unsqueeze(1)
    keep = torch.rand(depth, rows) >= rates  # global RNG: checkpointed, so resume repeats it
    phase = int(torch.randint(opts.rotation, ()))
    scales = exit_scales(depth, opts.e_scale, rotation_mask(depth, opts.rotation, phase))
    features = model.features_per_depth(x, keep=keep.to(x.device))
    logits = model.head(features[1:])  # depths 1..L through the shared head
    smoothing = opts.label_smoothing
    if smoothing is None:
        smoothing = cfg.optim.label_smoothing
    return weighted_exit_loss(logits, targets, scales, smoothing), logits[-1]
