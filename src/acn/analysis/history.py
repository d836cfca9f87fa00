"""Blocks x epochs views of a training run, read from its ``metrics.jsonl``.

The training loop logs one record per evaluation with ``epoch``, ``accuracy_per_depth`` (L+1
values), ``grad_norm_per_block`` (L values, averaged over the steps since the last evaluation) and,
when enabled, ``dg_share`` (L values on a fixed test batch,
:func:`acn.train.gradient_share.direct_gradient_share`) and the training-step statistics of
:mod:`acn.train.grad_stats` (``grad_stats: true``). Each view here is a matrix with one row per
block 1..L and one column per logged epoch:

- ``grad_norm``: the per-block gradient norm, all its parameters (the paper's Fig. 1 heatmap);
- ``probe_grad_norm``: the gradient norm of the block's MLP first weight (what the authors'
  research code plots);
- ``dg_cosine``: cos(DG_i, FG_i) of the MLP first weight, the authors' statistic (Fig. 2 right);
- ``dg_norm_ratio``: ||DG_i|| / ||FG_i|| over all its parameters, on the training steps;
- ``dg_share``: ||DG_i|| / ||FG_i|| on a fixed test batch at each evaluation;
- ``incremental``: acc(k) - acc(k-1) in accuracy points (the paper's Fig. 1 right).

:func:`early_late_ratios` reads the Fig. 1 claim off a gradient-norm view: the mean over the
first quarter of the blocks over that of the last quarter, per epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..runs.files import METRICS_FILE
from ..runs.run import Run

NORMALIZATIONS = ("none", "epoch")


@dataclass
class Heatmap:
    """One panel: ``values[b][e]`` is block b+1 at ``epochs[e]``."""

    label: str
    epochs: list[int]
    values: list[list[float]]

    @property
    def num_blocks(self) -> int:
        return len(self.values)


def _per_block(key: str) -> Callable[[dict[str, Any]], list[float] | None]:
    return lambda record: record.get(key)


def _incremental(record: dict[str, Any]) -> list[float] | None:
    acc = record.get("accuracy_per_depth")
    return None if acc is None else [b - a for a, b in zip(acc, acc[1:])]


VIEWS: dict[str, Callable[[dict[str, Any]], list[float] | None]] = {
    "grad_norm": _per_block("grad_norm_per_block"),
    "probe_grad_norm": _per_block("probe_grad_norm"),
    "dg_cosine": _per_block("dg_cosine"),
    "dg_norm_ratio": _per_block("dg_norm_ratio"),
    "dg_share": _per_block("dg_share"),
    "incremental": _incremental,
}
NORM_VIEWS = ("grad_norm", "probe_grad_norm")  # gradient norms: they drift in scale


def history_heatmap(
    records: list[dict[str, Any]], view: str, label: str = "", source: str = "metrics"
) -> Heatmap | None:
    """The ``view`` matrix of a run's records; None when no record carries it.

    A later record for the same epoch replaces an earlier one. Records must agree on the number
    of blocks, else DataError.
    """
    columns: dict[int, list[float]] = {}
    for i, record in enumerate(records):
        try:
            column = VIEWS[view](record)
            if column is None or "epoch" not in record:
                continue
            values = [float("nan") if v is None else float(v) for v in column]
            columns[int(record["epoch"])] = values
        except (TypeError, ValueError, AttributeError):
            raise DataError(f"{source}: record {i + 1} has a malformed epoch or {view}") from None
    if not columns:
        return None
    sizes = {len(c) for c in columns.values()}
    if len(sizes) != 1:
        raise DataError(
            f"{source}: {view} records disagree on the number of blocks {sorted(sizes)}"
        )
    epochs = sorted(columns)
    blocks = sizes.pop()
    values = [[columns[e][b] for e in epochs] for b in range(blocks)]
    return Heatmap(label, epochs, values)


def normalize_epochs(heatmap: Heatmap) -> Heatmap:
    """Each epoch's column divided by its largest absolute finite value (all-zero columns stay 0).

    Shows how one epoch's quantity is spread over the blocks when its overall scale drifts
    (gradient norms shrink by orders of magnitude during training).
    """
    columns = list(zip(*heatmap.values))
    scaled = []
    for column in columns:
        peak = max((abs(v) for v in column if math.isfinite(v)), default=0.0)
        scaled.append([v / peak if peak > 0 else v for v in column])
    return Heatmap(heatmap.label, heatmap.epochs, [list(row) for row in zip(*scaled)])


def early_late_ratio(values: list[list[float]], column: int) -> float:
    """Mean of the first quarter of the blocks (at least one) over the mean of the last quarter,
    in epoch column ``column`` of a blocks x epochs gradient-norm matrix; nan when undefined."""
    q = max(1, len(values) // 4)
    first = _finite_mean([row[column] for row in values[:q]])
    last = _finite_mean([row[column] for row in values[-q:]])
    return first / last if last > 0 else float("nan")


def early_late_ratios(heatmap: Heatmap) -> list[float]:
    """:func:`early_late_ratio` for every logged epoch of a gradient-norm view (Fig. 1: ACN's
    early blocks get far larger gradients early in training). Normalising an epoch's column by a
    constant leaves its ratio unchanged."""
    return [early_late_ratio(heatmap.values, c) for c in range(len(heatmap.epochs))]


def _finite_mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float("nan")


def run_heatmaps(run_dir: str | Path, label: str, normalize: str = "none") -> dict[str, Heatmap]:
    """Every view present in ``RUN/metrics.jsonl``, keyed by view name.

    ``normalize="epoch"`` applies :func:`normalize_epochs` to the gradient norms only
    (:data:`NORM_VIEWS`)."""
    if normalize not in NORMALIZATIONS:
        raise ConfigError(
            f"unknown normalization {normalize!r}; choose {', '.join(NORMALIZATIONS)}"
        )
    run = Run(run_dir)
    if not run.path.is_dir():
        raise DataError(f"not a run directory: {run.path}")
    if not run.metrics_path.exists():
        raise DataError(f"no {METRICS_FILE} in {run.path}; is it a training run directory?")
    records = run.metrics()
    if not records:
        raise DataError(f"{run.metrics_path} holds no evaluation records yet")
    out = {}
    for view in VIEWS:
        heatmap = history_heatmap(records, view, label, str(run.metrics_path))
        if heatmap is not None:
            # only gradient norms drift in scale; shares and accuracy points are kept as they are
            if normalize == "epoch" and view in NORM_VIEWS:
                heatmap = normalize_epochs(heatmap)
            out[view] = heatmap
    return out
