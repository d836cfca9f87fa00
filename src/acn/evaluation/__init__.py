"""Scoring a model at every depth from one pass, and the cutoff rule read off those scores.

- :mod:`.per_depth`: per-depth accuracy (one forward per batch, per-sample correctness);
- :mod:`.cutoff`: the smallest depth within a tolerance of the full model, and its bootstrap
  interval over test samples;
- :mod:`.masked_lm`: the masked-LM pretraining gate (accuracy against the unigram rate).
"""

from .cutoff import CutoffInterval, bootstrap_cutoff, cutoff_depth, cutoff_depths
from .masked_lm import GATE_MARGIN, MaskedLMGate, masked_lm_gate
from .per_depth import (
    IGNORE_INDEX,
    DepthEvaluation,
    check_labels,
    evaluate_per_depth,
    is_token_labels,
)

__all__ = [
    "GATE_MARGIN",
    "IGNORE_INDEX",
    "MaskedLMGate",
    "CutoffInterval",
    "DepthEvaluation",
    "bootstrap_cutoff",
    "check_labels",
    "cutoff_depth",
    "cutoff_depths",
    "evaluate_per_depth",
    "is_token_labels",
    "masked_lm_gate",
]
