"""Accuracy at every depth from one forward pass per batch.

The one place where "the prediction at depth k" is scored: training logs, probing, compression,
pruning and early exit all call :func:`evaluate_per_depth`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import DataError
from .models.base import OnStep, StackModel


@dataclass
class DepthEvaluation:
    """Per-sample results of a per-depth evaluation.

    ``correct`` is a bool tensor [L+1, N] (depth k, sample n); ``loss`` the mean cross-entropy of the
    full model (depth L); ``labels`` the N targets.
    """

    correct: Tensor
    loss: float
    labels: Tensor

    @property
    def accuracy(self) -> list[float]:
        """Accuracy (%) at depth 0..L (float64, so the cutoff rule sees the same numbers everywhere)."""
        return (self.correct.double().mean(dim=1) * 100).tolist()

    @property
    def num_samples(self) -> int:
        return int(self.correct.shape[1])


def check_labels(y: Tensor, num_classes: int) -> None:
    """One-line DataError for labels the model cannot predict."""
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise DataError(
            f"labels range {int(y.min())}..{int(y.max())} does not fit a model with {num_classes} classes"
        )


@torch.no_grad()
def evaluate_per_depth(
    model: StackModel,
    batches: Iterable[tuple[Tensor, Tensor]],
    device: str | torch.device | None = None,
    on_step: OnStep | None = None,
) -> DepthEvaluation:
    """Score ``model`` at every depth on prepared (x, y) batches (classification heads only).

    Runs ``logits_per_depth`` once per batch; the model's training mode is restored afterwards.
    ``on_step`` (see :meth:`StackModel.features_per_depth`) observes the same pass.
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct, labels, loss_sum = [], [], 0.0
    try:
        for x, y in batches:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            check_labels(y, model.config.num_classes)
            logits = model.logits_per_depth(x, on_step)  # [L+1, B, C]
            loss_sum += float(F.cross_entropy(logits[-1].float(), y, reduction="sum"))
            correct.append((logits.argmax(dim=-1) == y).cpu())
            labels.append(y.cpu())
    finally:
        model.train(was_training)
    if not correct:
        raise DataError("evaluation set is empty")
    all_correct = torch.cat(correct, dim=1)
    return DepthEvaluation(all_correct, loss_sum / all_correct.shape[1], torch.cat(labels))
