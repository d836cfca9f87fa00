"""The ``--auto-cut`` picture: validation accuracy at every depth over training, cuts marked.

Reads a run's ``metrics.jsonl`` records (each evaluation holds the monitor's validation accuracy
per depth under ``auto_cut``). Drawn on matplotlib's Agg canvas (no pyplot, no backend change).
"""

from __future__ import annotations

import math
import os
from typing import Any

from matplotlib.figure import Figure

from .plots import _save


def auto_cut_grid(records: list[dict[str, Any]]) -> tuple[list[float], list[list[float]]]:
    """(epochs, rows): row i is the validation accuracy at depth 0..L0 of evaluation i, nan for
    the depths that had been cut away by then (L0: the first evaluation's depth)."""
    rows = [r["auto_cut"]["val_accuracy_per_depth"] for r in records if "auto_cut" in r]
    epochs = [float(r["epoch"]) for r in records if "auto_cut" in r]
    width = max((len(row) for row in rows), default=0)
    return epochs, [list(row) + [math.nan] * (width - len(row)) for row in rows]


def plot_auto_cut(
    records: list[dict[str, Any]], path: str | os.PathLike, title: str = "auto-cut"
) -> dict[str, Any]:
    """Heatmap (epochs x depth) of validation accuracy, the monitor's cutoff interval as a band,
    the model's depth over training as a step line and every cut as a marker; returns what it drew.
    """
    epochs, grid = auto_cut_grid(records)
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.add_subplot()
    drawn: dict[str, Any] = {"epochs": epochs, "grid": grid, "cuts": []}
    if grid:
        depth = len(grid[0]) - 1
        image = ax.imshow(
            [list(col) for col in zip(*grid)],  # depths on the y axis
            origin="lower",
            aspect="auto",
            cmap="viridis",
            extent=(epochs[0] - 0.5, epochs[-1] + 0.5, -0.5, depth + 0.5),
        )
        fig.colorbar(image, ax=ax, label="validation accuracy (%)")
        monitored = [r["auto_cut"] for r in records if "auto_cut" in r]
        ax.fill_between(
            epochs,
            [m["interval"][0] for m in monitored],
            [m["interval"][1] for m in monitored],
            color="white",
            alpha=0.25,
            step="mid",
            label="cutoff 95% interval",
        )
        ax.plot(epochs, [m["cutoff"] for m in monitored], "w.", ms=5, label="cutoff")
        ax.step(epochs, [m["depth"] for m in monitored], "r-", where="post", label="model depth")
        for r in records:
            if "cut" in r:
                c = r["cut"]
                ax.plot([r["epoch"]], [c["depth_after"]], "rv", ms=9)
                ax.annotate(
                    f"{c['depth_before']}->{c['depth_after']}",
                    (r["epoch"], c["depth_after"]),
                    textcoords="offset points",
                    xytext=(4, -12),
                    color="red",
                    fontsize=8,
                )
                drawn["cuts"].append(c)
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlabel("epoch")
    ax.set_ylabel("depth k (blocks used)")
    ax.set_title(title, fontsize=9)
    _save(fig, path)
    return drawn
