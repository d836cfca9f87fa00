"""The masked-LM pretraining gate: did the encoder learn more than the most frequent token?

A collapsed masked-LM encoder predicts one token everywhere, and its masked-token accuracy is
that token's share of the scored positions. No constant prediction can do better than the most
frequent label's share, the *unigram rate*; so a pretraining counts as learned only when the full
model's masked-token accuracy exceeds the unigram rate, measured on the same scored positions, by
a margin declared before any run (:data:`GATE_MARGIN`). A pretraining that fails the gate is
reported as failed, never fine-tuned and compared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import ConfigError
from ..models.base import StackModel
from .per_depth import DepthEvaluation, evaluate_per_depth

# Accuracy points above the unigram rate that a pretraining must clear; fixed before the first
# run of the recipe in configs/ (the unigram rate of its held-out text is about 4-5 %).
GATE_MARGIN = 5.0


@dataclass
class MaskedLMGate:
    """Masked-token accuracy (%) at every depth, the unigram rate (%) of the same positions and
    the verdict: ``passed`` iff ``accuracy - unigram_rate > margin`` (full depth)."""

    accuracy_per_depth: list[float]
    unigram_rate: float
    unigram_token: int
    margin: float
    num_tokens: int

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
            f"masked-token accuracy {self.accuracy:.2f}% vs unigram rate {self.unigram_rate:.2f}% "
            f"(token {self.unigram_token}) on {self.num_tokens:,} masked tokens: "
            f"{self.excess:+.2f} points, margin {self.margin:g}: {verdict}"
        )


def unigram_rate(labels: Tensor) -> tuple[float, int]:
    """(share in % of the most frequent label, that label): the best constant prediction's
    accuracy on these labels (ties: the smallest id)."""
    if labels.numel() == 0:
        raise ConfigError("no scored tokens: the unigram rate is undefined")
    counts = torch.bincount(labels.flatten().long())
    top = int(counts.argmax())
    return float(counts[top]) / labels.numel() * 100, top


def gate_from_evaluation(evaluation: DepthEvaluation, margin: float = GATE_MARGIN) -> MaskedLMGate:
    """The gate on an evaluation's scored tokens (see :func:`masked_lm_gate`)."""
    if not margin >= 0:
        raise ConfigError(f"the gate margin must be >= 0 points, got {margin}")
    rate, token = unigram_rate(evaluation.labels)
    return MaskedLMGate(evaluation.accuracy, rate, token, float(margin), evaluation.num_samples)


def masked_lm_gate(
    model: StackModel,
    batches: Iterable[tuple[Tensor, Tensor]],
    margin: float = GATE_MARGIN,
    device: str | torch.device | None = None,
) -> MaskedLMGate:
    """Score a masked-LM ``model`` on prepared (masked ids, token labels) batches and apply the
    gate: its full-depth accuracy against the unigram rate of the same scored positions."""
    return gate_from_evaluation(evaluate_per_depth(model, batches, device), margin)
