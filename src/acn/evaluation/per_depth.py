"""Accuracy and loss at every depth from one forward pass per batch.

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

    ``correct`` is a bool tensor [L+1, N] (depth k, sample n); ``nll`` the cross-entropy (nats)
    of every sample at every depth [L+1, N]; ``loss`` the mean cross-entropy of the full model
    (depth L); ``labels`` the N targets. For token labels a sample is one scored token.
    """

    correct: Tensor
    loss: float
    labels: Tensor
    nll: Tensor | None = None
    rows: Tensor | None = None  # for token labels: the input row (sequence) of every token

    def nll_per_row(self) -> Tensor:
        """Mean cross-entropy of every input row (sequence) at every depth: [L+1, R]. Token
        samples of one text are not independent, so a bootstrap resamples these rows."""
        if self.nll is None:
            raise ValueError("this evaluation kept no per-sample losses")
        if self.rows is None:
            return self.nll
        n = int(self.rows.max()) + 1
        sums = torch.zeros(self.nll.shape[0], n, dtype=torch.float64)
        sums.index_add_(1, self.rows, self.nll.double())
        counts = torch.bincount(self.rows, minlength=n).clamp_min(1)
        return sums / counts

    @property
    def accuracy(self) -> list[float]:
        """Accuracy (%) at depth 0..L (float64, so the cutoff rule sees the same numbers everywhere)."""
        return (self.correct.double().mean(dim=1) * 100).tolist()

    @property
    def loss_per_depth(self) -> list[float]:
        """Mean cross-entropy (nats per sample or token) at depth 0..L."""
        if self.nll is None:
            raise ValueError("this evaluation kept no per-sample losses")
        return self.nll.double().mean(dim=1).tolist()

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
    correct, nll, labels, rows = [], [], [], []
    seen = 0  # input rows so far
    try:
        for x, y in batches:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if is_token_labels(y):
                row = torch.arange(seen, seen + len(y), device=y.device)[:, None].expand_as(y)
                rows.append(row[y != IGNORE_INDEX].cpu())
                hits, losses, y = _score_tokens(model, x, y, on_step)  # [L+1, M] x2, [M]
            else:
                check_labels(y, model.config.num_classes)
                logits = model.logits_per_depth(x, on_step)  # [L+1, B, C]
                hits = logits.argmax(dim=-1) == y
                losses = torch.stack(
                    [F.cross_entropy(z.float(), y, reduction="none") for z in logits]
                )
            correct.append(hits.cpu())
            nll.append(losses.cpu())
            labels.append(y.cpu())
            seen += len(x)
    finally:
        model.train(was_training)
    if not correct:
        raise DataError("evaluation set is empty")
    all_correct = torch.cat(correct, dim=1)
    if all_correct.shape[1] == 0:
        raise DataError("evaluation set has no scored (masked) tokens")
    all_nll = torch.cat(nll, dim=1)
    loss = float(all_nll[-1].double().mean())
    token_rows = torch.cat(rows) if len(rows) == len(correct) else None
    return DepthEvaluation(all_correct, loss, torch.cat(labels), all_nll, token_rows)


def _score_tokens(
    model: StackModel, x: Tensor, y: Tensor, on_step: OnStep | None
) -> tuple[Tensor, Tensor, Tensor]:
    """Per-depth correctness and cross-entropy [L+1, M] and the labels [M] of the M scored
    tokens of a token batch.

    The same single pass as ``logits_per_depth`` (head over ``features_per_depth``), but the
    token-wise head runs on the scored positions only and one depth at a time: the full
    [L+1, B, T, V] logits would take gigabytes at an ordinary eval batch size or a GPT-2
    vocabulary. The label range is checked against the logits' last dim, the vocabulary the head
    actually predicts over (``config.num_classes`` is not it for masked-LM models).
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
    y = y[scored]
    hits, losses = [], []
    for k, feature in enumerate(features):
        logits = model.head(feature[scored]).float()  # [M, V]
        if k == 0:
            check_labels(y, logits.shape[-1])
        hits.append(logits.argmax(dim=-1) == y)
        losses.append(F.cross_entropy(logits, y, reduction="none"))
    return torch.stack(hits), torch.stack(losses), y
