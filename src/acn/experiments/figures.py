"""Figures of the reproduce experiments: curves averaged over seeds, with a +-1 std band."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib import colormaps
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


def pareto_front(points: dict[str, tuple[float, float]], maximize_y: bool = True) -> list[str]:
    """The labels whose (x, y) no other point dominates (x no larger and y no worse, one of them
    strictly), by increasing x; lower x is better (a cost), higher y unless ``maximize_y`` is
    False (a loss)."""
    sign = 1.0 if maximize_y else -1.0

    def dominated(a: tuple[float, float]) -> bool:
        return any(b[0] <= a[0] and sign * b[1] >= sign * a[1] and b != a
                   for b in points.values())  # fmt: skip

    return sorted((k for k, v in points.items() if not dominated(v)), key=lambda k: points[k])


def plot_points(
    points: dict[str, Sequence[tuple[float, float]]],
    path: str | os.PathLike,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    front: str | None = None,
) -> Path:
    """One marker per label at the mean (x, y) over its seeds with +-1 std error bars, and each
    seed's point faint beside it (e.g. accuracy against speedup). ``front`` ("max" or "min":
    whether higher y is better) draws the Pareto front of the means (lower x is better) as a
    dashed staircase."""
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    colors = _colors(len(points))
    # beyond ten labels, tab20's pairs of shades are told apart by their markers
    markers = "o" * 10 if len(points) <= 10 else "osD^v<>PXhp*"
    means: dict[str, tuple[float, float]] = {}
    for i, ((label, pts), color) in enumerate(zip(points.items(), colors)):
        if not pts:
            continue
        (mx, my), (sx, sy) = mean_std([list(p) for p in pts])
        means[label] = (mx, my)
        marker = markers[i % len(markers)]
        ax.errorbar([mx], [my], xerr=[sx], yerr=[sy], fmt=marker, ms=6, capsize=3, color=color,
                    label=f"{label} (n={len(pts)})")  # fmt: skip
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker, ms=3, alpha=0.35, color=color)
    if front is not None and means:
        on_front = [means[k] for k in pareto_front(means, maximize_y=front == "max")]
        xs = [x for x, _ in on_front]
        ys = [y for _, y in on_front]
        ax.step(xs, ys, where="post", linestyle="--", color="0.4", lw=1, label="Pareto front")
    return _finish(fig, ax, path, title=title, xlabel=xlabel, ylabel=ylabel, legend_size=7)


def _colors(n: int) -> list[Any]:
    """``n`` distinct colours: matplotlib's default cycle, or tab20 beyond its ten."""
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


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
