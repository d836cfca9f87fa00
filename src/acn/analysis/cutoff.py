"""Cutoff depth: the smallest depth whose accuracy is within a tolerance of the full model."""

from __future__ import annotations

from collections.abc import Sequence


def cutoff_depth(accuracy: Sequence[float], tolerance: float = 0.5) -> int:
    """Smallest k with ``accuracy[k] >= accuracy[-1] - tolerance`` (accuracies in percent).

    The paper reads cutoffs off a plot ("comparable performance"); this makes the rule explicit.
    """
    if not accuracy:
        raise ValueError("need at least one depth")
    target = accuracy[-1] - tolerance
    return next(k for k, a in enumerate(accuracy) if a >= target)
