"""PNG figures: accuracy vs depth over several runs, and blocks x epochs heatmaps.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot), so importing this module never
changes the user's matplotlib backend and works without a display. Each function returns the
numbers it drew, which tests compare with the computed results.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..utils import atomic_write
from .history import Heatmap
from .probe import ProbeResult


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))
    return Path(path)


def plot_accuracy_vs_depth(
    results: list[ProbeResult], path: str | os.PathLike, title: str = "Accuracy vs depth"
) -> dict[str, list[float]]:
    """One line per run (label = run name + connectivity), its cutoff marked; {label: accuracy}."""
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    drawn = {}
    lm = any(r.is_lm for r in results)  # language models: validation loss per depth
    for r in results:
        values = r.loss_per_depth if lm and r.is_lm else r.accuracy
        (line,) = ax.plot(range(r.depth + 1), values, marker="o", ms=3, label=r.label)
        c = r.cutoff
        ax.plot([c.cutoff], [values[c.cutoff]], marker="*", ms=12, color=line.get_color())
        ax.axvspan(c.low - 0.1, c.high + 0.1, color=line.get_color(), alpha=0.08, lw=0)
        drawn[r.label] = list(values)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("depth k (blocks used)")
    ax.set_ylabel("validation loss (nats/token)" if lm else "test accuracy (%)")
    ax.set_title(f"{title} (star: cutoff, band: 95% bootstrap interval)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)
    return drawn


def shared_range(panels: list[Heatmap], symmetric: bool = False) -> tuple[float, float]:
    """Colour range over the finite values of all panels (symmetric around 0 when asked)."""
    finite = [v for p in panels for row in p.values for v in row if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if symmetric:
        bound = max(abs(lo), abs(hi)) or 1.0
        return -bound, bound
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def plot_heatmaps(
    panels: list[Heatmap],
    path: str | os.PathLike,
    title: str,
    colorbar_label: str,
    symmetric: bool = False,
) -> tuple[float, float]:
    """One blocks x epochs panel per run on a shared colour scale; returns that (vmin, vmax).

    ``symmetric`` centres a diverging colour map on 0 (for signed values such as accuracy gains).
    """
    vmin, vmax = shared_range(panels, symmetric)
    cmap = "RdBu_r" if symmetric else "viridis"
    fig = Figure(figsize=(1.2 + 4.2 * len(panels), 3.8))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    image = None
    for ax, panel in zip(axes, panels):
        epochs = panel.epochs
        image = ax.imshow(
            panel.values,
            aspect="auto",
            origin="lower",
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            interpolation="nearest",
            extent=(-0.5, len(epochs) - 0.5, 0.5, panel.num_blocks + 0.5),
        )
        ticks = sorted({0, len(epochs) - 1, *range(0, len(epochs), max(1, len(epochs) // 6))})
        ax.set_xticks(ticks, [str(epochs[t]) for t in ticks])
        ax.set_xlabel("epoch")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("block")
        ax.set_title(panel.label, fontsize=9)
    fig.suptitle(title, fontsize=10)
    if image is not None:
        fig.colorbar(image, ax=list(axes), label=colorbar_label)
    _save(fig, path)
    return vmin, vmax
