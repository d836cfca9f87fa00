"""What the reproduce experiments read back from a finished training run: accuracy at every
depth, cutoff and the share of the network it keeps, the best evaluation's epoch, inference FLOPs
per depth, and the training cost (wall time, estimated FLOPs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..compress import flops_per_depth
from ..runs.files import SUMMARY_FILE, read_metrics
from ..serialization import load


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / SUMMARY_FILE).read_text())


def run_numbers(run_dir: str | Path, *, flops: bool = True) -> dict[str, Any]:
    """What a finished run reports: final accuracy at every depth, cutoff and the share of the
    network it uses, the best evaluation's epoch and accuracy, wall time and, with ``flops``, the
    inference FLOPs per sample at every depth (model truncated at k = 0..L)."""
    s = read_summary(run_dir)
    records = read_metrics(run_dir)
    best = max(records, key=lambda r: r["accuracy"]) if records else {"epoch": 0, "accuracy": 0.0}
    out = {
        "accuracy": s["accuracy"],
        "accuracy_per_depth": s["accuracy_per_depth"],
        "depth": s["depth"],
        "cutoff_depth": s["cutoff_depth"],
        "network_used_pct": 100.0 * s["cutoff_depth"] / max(s["depth"], 1),
        "params": s["params"],
        "cut_model_params": s["cut_model_params"],
        "best_epoch": best["epoch"],
        "best_accuracy": best["accuracy"],
        "epochs": s["epochs"],
        "steps": s["steps"],
        "train_time_s": s["train_time_s"],
    }
    if flops:
        out["flops_per_depth"] = flops_per_depth(load(run_dir))
    return out


def training_flops(forward_flops: float, samples: int, epochs: int) -> float:
    """Estimated training FLOPs: 3 x forward (forward + backward) per sample seen."""
    return 3.0 * forward_flops * samples * epochs
