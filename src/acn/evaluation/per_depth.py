"""Accuracy at every depth from one forward pass per batch.

The one place where "the prediction at depth k" is scored: training logs, probing, compression,
pruning and early exit all call :func:`evaluate_per_depth`. Labels are either one class per
sample ([B]) or one token per position ([B, T], masked-LM, ``IGNORE_INDEX`` where not scored); in
the token case every scored token counts as one sample.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.mlm import IGNORE_INDEX
from ..errors import DataError
from ..models.base import OnStep, StackModel


@dataclass
class DepthEvaluation:
    """Per-sample results of a per-depth evaluation.

    ``correct`` is a bool tensor [L+1, N] (depth k, sample n); ``loss`` the mean cross-entropy of the
    full model (depth L); ``labels`` the N targets. For token labels a sample is one scored token.
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


def is_token_labels(y: Tensor) -> bool:
    """Whether ``y`` holds per-token labels [B, T] (masked-LM) rather than per-sample ones.

    Soft (CutMix) targets are 2-D too, but floating point."""
    return y.dim() == 2 and not y.is_floating_point()


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
    """Score ``model`` at every depth on prepared (x, y) batches.

    ``y`` is [B] class labels (classification head) or [B, T] token labels with ``IGNORE_INDEX``
    at unscored positions (masked-LM head, logits [L+1, B, T, V]): then only the scored tokens
    count, at every depth, and ``loss`` is the full model's mean cross-entropy over them.

    One pass per batch; the model's training mode is restored afterwards. ``on_step`` (see
    :meth:`StackModel.features_per_depth`) observes the same pass.
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct, labels, loss_sum = [], [], 0.0
    try:
        for x, y in batches:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if is_token_labels(y):
                logits, y = _scored_token_logits(model, x, y, on_step)  # [L+1, M, V], [M]
            else:
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
    if all_correct.shape[1] == 0:
        raise DataError("evaluation set has no scored (masked) tokens")
    return DepthEvaluation(all_correct, loss_sum / all_correct.shape[1], torch.cat(labels))


def _scored_token_logits(
    model: StackModel, x: Tensor, y: Tensor, on_step: OnStep | None
) -> tuple[Tensor, Tensor]:
    """Per-depth logits [L+1, M, V] and labels [M] of the M scored tokens of a token batch.

    The same single pass as ``logits_per_depth`` (head over ``features_per_depth``), but the
    token-wise head runs on the scored positions only: the full [L+1, B, T, V] tensor would take
    gigabytes at an ordinary eval batch size. The label range is checked against the logits' last
    dim, the vocabulary the head actually predicts over (``config.num_classes`` is not it).
    """
    if y.shape != x.shape[:2]:
        raise DataError(
            f"token labels of shape {list(y.shape)} do not match inputs {list(x.shape)}"
        )
    scored = y != IGNORE_INDEX
    features = model.features_per_depth(x, on_step)  # [L+1, B, T, D]
    if features.dim() != 4 or features.shape[1:3] != y.shape:
        raise DataError(
            f"token labels {list(y.shape)} need a token-level head (masked-LM); "
            f"{model.config.name} gives per-depth features of shape {list(features.shape)}"
        )
    logits = model.head(features[:, scored])  # [L+1, M, V]
    y = y[scored]
    check_labels(y, logits.shape[-1])
    return logits, y
