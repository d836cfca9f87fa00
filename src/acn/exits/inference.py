"""The real early-exit inference path: samples that leave are no longer computed.

The pass walks the stack with the connectivity primitives (``start`` / ``step`` / ``read``). At
each exit the policy decides which rows leave; those rows are dropped from the stack state, the
policy state and the per-input block arguments (e.g. BERT's attention mask), so later blocks run
on the remaining rows only. When no row is left the pass stops at once (at batch 1: as soon as
the one sample leaves). Its decisions equal :func:`acn.exits.policies.simulate_exits` applied to
:func:`acn.models.exit_heads.exit_logits`, the cheap simulation used for calibration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..models.base import StackModel
from ..models.exit_heads import Exit, exit_classifier
from .policies import ExitPolicy, PolicyState


@dataclass
class ExitPrediction:
    """Per-sample result: predicted class and the index (into the exit list) it left at."""

    prediction: Tensor
    exit_index: Tensor


def _select_kwargs(kwargs: dict[str, Any], index: Tensor, batch: int) -> dict[str, Any]:
    """Per-sample block arguments (tensors with the batch as first axis) keep only ``index``."""
    return {
        k: v.index_select(0, index)
        if isinstance(v, Tensor) and v.ndim and v.shape[0] == batch
        else v
        for k, v in kwargs.items()
    }


@torch.no_grad()
def early_exit_predict(
    model: StackModel, x: Tensor, policy: ExitPolicy, exits: Sequence[Exit]
) -> ExitPrediction:
    """Predict ``x`` with early exit; blocks never run for samples that already left.

    The model should be in eval mode (as for any inference).
    """
    batch = x.shape[0]
    device = x.device
    prediction = torch.empty(batch, dtype=torch.long, device=device)
    exit_index = torch.empty(batch, dtype=torch.long, device=device)
    rows = torch.arange(batch, device=device)  # original index of every running row
    x0, kwargs = model.start(x)
    state = model.stack.start(x0)
    pstate = PolicyState()
    last = len(exits) - 1
    for j, e in enumerate(exits):
        while state.depth < e.depth:
            state = model.stack.step(state, **kwargs)
        logits = exit_classifier(model, e)(model.feature(model.stack.read(state)))
        if j == last:  # the last exit takes every row still running
            prediction[rows] = logits.argmax(dim=-1)
            exit_index[rows] = j
            break
        leave, pstate = policy.decide(logits, pstate)
        keep = (~leave).nonzero().flatten()
        if keep.numel() < rows.numel():  # some rows leave here
            gone = leave.nonzero().flatten()
            prediction[rows[gone]] = logits[gone].argmax(dim=-1)
            exit_index[rows[gone]] = j
            if keep.numel() == 0:
                break
            kwargs = _select_kwargs(kwargs, keep, rows.numel())
            state, pstate, rows = state.select(keep), pstate.select(keep), rows[keep]
    return ExitPrediction(prediction, exit_index)
