"""Scoring a model at every depth from one pass, and the cutoff rule read off those scores.

- :mod:`.per_depth`: per-depth accuracy (one forward per batch, per-sample correctness);
- :mod:`.cutoff`: the smallest depth within a tolerance of the full model, and its bootstrap
  interval over test samples.
"""

from .cutoff import CutoffInterval, bootstrap_cutoff, cutoff_depth, cutoff_depths
from .per_depth import (
    IGNORE_INDEX,
    DepthEvaluation,
    check_labels,
    evaluate_per_depth,
    is_token_labels,
)

__all__ = [
    "IGNORE_INDEX",
    "CutoffInterval",
    "DepthEvaluation",
    "bootstrap_cutoff",
    "check_labels",
    "cutoff_depth",
    "cutoff_depths",
    "evaluate_per_depth",
    "is_token_labels",
]
