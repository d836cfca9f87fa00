"""Figures of the reproduce experiments: curves averaged over seeds, with a +-1 std band."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..utils import atomic_write


def mean_std(rows: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    """Column-wise mean and sample std (0 for one row) of equally long rows."""
    n = len(rows)
    means = [sum(col) / n for col in zip(*rows)]
    if n < 2:
        return means, [0.0] * len(means)
    stds = [
        math.sqrt(sum((v - m) ** 2 for v in col) / (n - 1)) for col, m in zip(zip(*rows), means)
    ]
    return means, stds


def plot_curves(
    curves: dict[str, Sequence[Sequence[float]]],
    path: str | os.PathLike,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    x: Sequence[float] | None = None,
    marks: dict[str, float] | None = None,
    logy: bool = False,
) -> Path:
    """One line per label (mean over its seeds' rows, band +-1 std); ``marks`` puts a star at
    x = marks[label] on that label's line (e.g. the mean cutoff)."""
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    for label, rows in curves.items():
        if not rows:
            continue
        mean, std = mean_std(rows)
        xs = list(x) if x is not None else list(range(len(mean)))
        (line,) = ax.plot(xs, mean, marker="o", ms=3, label=f"{label} (n={len(rows)})")
        lo = [m - s for m, s in zip(mean, std)]
        hi = [m + s for m, s in zip(mean, std)]
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
        if marks and label in marks:
            k = marks[label]
            y = mean[min(range(len(xs)), key=lambda i: abs(xs[i] - k))]
            ax.plot([k], [y], marker="*", ms=13, color=line.get_color(), linestyle="none")
    if logy:
        ax.set_yscale("log")
    if x is None or all(float(v).is_integer() for v in x):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _finish(fig, ax, path, title=title, xlabel=xlabel, ylabel=ylabel)


def plot_points(
    points: dict[str, Sequence[tuple[float, float]]],
    path: str | os.PathLike,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
) -> Path:
    """One marker per label at the mean (x, y) over its seeds with +-1 std error bars, and each
    seed's point faint beside it (e.g. accuracy against speedup)."""
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    for label, pts in points.items():
        if not pts:
            continue
        (mx, my), (sx, sy) = mean_std([list(p) for p in pts])
        bar = ax.errorbar([mx], [my], xerr=[sx], yerr=[sy], fmt="o", ms=6, capsize=3,
                          label=f"{label} (n={len(pts)})")  # fmt: skip
        color = bar.lines[0].get_color()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", ms=3, alpha=0.35, color=color)
    return _finish(fig, ax, path, title=title, xlabel=xlabel, ylabel=ylabel, legend_size=7)


def _finish(
    fig: Figure,
    ax: Any,
    path: str | os.PathLike,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    legend_size: int = 8,
) -> Path:
    """Labels, grid and legend of every figure here, then the PNG written atomically."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))
    return path
