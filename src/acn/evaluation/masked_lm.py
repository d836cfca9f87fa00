"""The masked-LM pretraining gate: did the encoder learn to predict a hidden token from context?

The gate scores the positions whose input is ``[MASK]``: there the input says nothing about the
token, so what a model gets right beyond a constant guess it got from the context. A collapsed
encoder predicts one token everywhere; no constant prediction does better than the most frequent
label's share of those positions, the *unigram rate*. A pretraining counts as learned only when
the full model's accuracy on them exceeds the unigram rate of the same positions by a margin
declared before any run (:data:`GATE_MARGIN`). A pretraining that fails the gate is reported as
failed, never fine-tuned and compared.

Why only the ``[MASK]`` positions: BERT's corruption leaves 10% of the scored tokens unchanged
(80/10/10), so over all scored positions an encoder that merely copies its input token reaches
about 10 points above the unigram rate without reading any context. (The first version of this
gate scored all positions; it let exploratory runs pass that had learned no context, and was
replaced by this one, which is stricter, before any recipe was chosen with it.)
``all_scored_accuracy`` keeps the accuracy over all scored positions, the number training logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from ..data.tokenizer import MASK_ID
from ..errors import ConfigError
from ..models.base import StackModel
from .per_depth import IGNORE_INDEX, DepthEvaluation, evaluate_per_depth

# Accuracy points above the unigram rate that a pretraining must clear; fixed before the first
# pretraining run (the unigram rate of the held-out SST-2 + AG News text is about 3-4 %).
GATE_MARGIN = 5.0


@dataclass
class MaskedLMGate:
    """Accuracy (%) at every depth on the ``[MASK]``-input positions, the unigram rate (%) of the
    same positions and the verdict: ``passed`` iff ``accuracy - unigram_rate > margin`` (full
    depth); ``all_scored_accuracy``: full-depth accuracy over every scored position."""

    accuracy_per_depth: list[float]
    unigram_rate: float
    unigram_token: int
    margin: float
    num_tokens: int
    all_scored_accuracy: float

    @property
    def accuracy(self) -> float:
        return self.accuracy_per_depth[-1]

    @property
    def excess(self) -> float:
        """Accuracy points above the unigram rate at full depth."""
        return self.accuracy - self.unigram_rate

    @property
    def passed(self) -> bool:
        return self.excess > self.margin

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "accuracy": self.accuracy,
            "excess": self.excess,
            "passed": self.passed,
        }

    def describe(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"accuracy on [MASK] inputs {self.accuracy:.2f}% vs unigram rate "
            f"{self.unigram_rate:.2f}% (token {self.unigram_token}) on {self.num_tokens:,} tokens: "
            f"{self.excess:+.2f} points, margin {self.margin:g}: {verdict} (all scored positions: "
            f"{self.all_scored_accuracy:.2f}%)"
        )


def unigram_rate(labels: Tensor) -> tuple[float, int]:
    """(share in % of the most frequent label, that label): the best constant prediction's
    accuracy on these labels (ties: the smallest id)."""
    if labels.numel() == 0:
        raise ConfigError("no scored tokens: the unigram rate is undefined")
    counts = torch.bincount(labels.flatten().long())
    top = int(counts.argmax())
    return float(counts[top]) / labels.numel() * 100, top


def gate_from_evaluation(
    evaluation: DepthEvaluation, hidden: Tensor, margin: float = GATE_MARGIN
) -> MaskedLMGate:
    """The gate on an evaluation's scored tokens, of which ``hidden`` (bool, one per scored token)
    marks those whose input was ``[MASK]`` (see :func:`masked_lm_gate`)."""
    if not margin >= 0:
        raise ConfigError(f"the gate margin must be >= 0 points, got {margin}")
    if hidden.shape != evaluation.labels.shape:
        raise ConfigError("hidden must flag every scored token of the evaluation")
    correct = evaluation.correct[:, hidden]
    if correct.shape[1] == 0:
        raise ConfigError("no scored token has a [MASK] input: the gate is undefined")
    rate, token = unigram_rate(evaluation.labels[hidden])
    accuracy = (correct.double().mean(dim=1) * 100).tolist()
    return MaskedLMGate(
        accuracy, rate, token, float(margin), int(hidden.sum()), evaluation.accuracy[-1]
    )


def masked_lm_gate(
    model: StackModel,
    batches: Iterable[tuple[Tensor, Tensor]],
    margin: float = GATE_MARGIN,
    device: str | torch.device | None = None,
    mask_id: int = MASK_ID,
) -> MaskedLMGate:
    """Score a masked-LM ``model`` on prepared (corrupted ids, token labels) batches and apply the
    gate: its full-depth accuracy on the positions whose input is ``mask_id`` against the unigram
    rate of the same positions."""
    batches = list(batches)
    hidden = [(x == mask_id)[y != IGNORE_INDEX].cpu() for x, y in batches]
    evaluation = evaluate_per_depth(model, batches, device)
    return gate_from_evaluation(evaluation, torch.cat(hidden), margin)
