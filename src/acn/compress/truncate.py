"""Compression by truncation: keep the first k blocks, save them as a standalone model, and
measure both models side by side.

The depth is either given or chosen by the cutoff rule (:func:`acn.evaluation.cutoff.cutoff_depth`)
from per-depth accuracies that come from ONE evaluation pass of the full model. The accuracy
reported for the compressed model is measured again on the reloaded file, not copied.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from ..connectivity import check_depth
from ..errors import ConfigError
from ..evaluation import evaluate_per_depth
from ..evaluation.cutoff import cutoff_depth
from ..models.base import StackModel
from ..serialization import load, save
from ..utils import machine_info
from .cost import cost, speeds

Batches = Callable[[], Iterable[tuple[Tensor, Tensor]]]


def choose_depth(
    accuracy: list[float], tolerance: float | None = None, depth: int | None = None
) -> int:
    """``depth`` if given (checked against the model), else the cutoff within ``tolerance`` points."""
    if depth is not None:
        return check_depth(depth, len(accuracy) - 1)
    if tolerance is None or not 0 <= tolerance < math.inf:  # NaN fails this too
        raise ConfigError(f"tolerance must be a number of accuracy points >= 0, got {tolerance}")
    return cutoff_depth(accuracy, tolerance)


@dataclass
class Compression:
    """What :func:`compress` did: the chosen depth, both accuracy curves and the side-by-side report."""

    depth: int
    path: Path
    accuracy_per_depth: list[float]
    report: dict[str, Any]


def side(model: StackModel, accuracy: float) -> dict[str, Any]:
    """One column of the before/after table (without speed)."""
    c = cost(model)
    keep = ("depth", "params", "flops", "flops_no_attention", "size_bytes", "param_bytes")
    return {"accuracy": accuracy, **{k: c[k] for k in keep}}


def compress(
    model: StackModel,
    batches: Batches,
    out: str | os.PathLike,
    *,
    tolerance: float | None = 0.5,
    depth: int | None = None,
    timing: dict[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
) -> Compression:
    """Truncate ``model`` at ``depth`` (or its cutoff), write it to ``out`` and compare the two.

    ``batches()`` returns a fresh iterable of prepared test batches. ``timing`` (keyword
    arguments of :func:`acn.compress.cost.speeds`, e.g. ``{"throughput_batch": 256}``) adds
    latency and throughput, both models timed interleaved; ``None`` skips timing.
    """
    device = next(model.parameters()).device
    evaluation = evaluate_per_depth(model, batches(), device)
    accuracy = evaluation.accuracy
    k = choose_depth(accuracy, tolerance, depth)
    small = model.truncate(k).eval()
    path = save(small, out, metadata)
    reloaded = load(path, device)
    after_acc = evaluate_per_depth(reloaded, batches(), device).accuracy[-1]
    ref = next(model.parameters())
    before, after = side(model, accuracy[-1]), side(reloaded, after_acc)
    if timing is not None:
        speed = speeds({"before": model, "after": reloaded}, **timing)
        before.update(speed["before"])
        after.update(speed["after"])
    report = {
        "rule": {"depth": depth} if depth is not None else {"tolerance": tolerance},
        "cutoff_depth": k,
        "out": str(path),
        "accuracy_per_depth": accuracy,
        "before": before,
        "after": after,
        "machine": machine_info(ref.device, ref.dtype),
        "num_test_samples": evaluation.num_samples,
    }
    return Compression(k, Path(path), accuracy, report)
