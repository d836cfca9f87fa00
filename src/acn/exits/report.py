"""Early-exit results as a printed table, a JSON file, and sweep curves (CSV + PNG)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from ..utils import atomic_write, table
from .evaluate import ExitReport

SWEEP_FIELDS = ("tau", "val_accuracy", "test_accuracy", "expected_flops", "speedup")


def histogram_text(report: ExitReport) -> str:
    """Percent of test samples leaving at each exit, e.g. ``b2:61 b4:20 h8:19`` (zeros left out)."""
    parts = [
        f"{label}:{100 * frac:.0f}"
        for label, frac in zip(report.exits, report.test.histogram)
        if round(100 * frac) > 0
    ]
    return " ".join(parts) or "-"


def _wall(report: ExitReport, batch: int) -> str:
    hit = [w for w in report.wall if w.batch_size == batch]
    return f"{hit[0].speedup:.2f}x" if hit else "-"


def format_table(reports: Sequence[ExitReport], large_batch: int = 256) -> str:
    """One row per configuration: accuracy, drop, FLOPs and wall-clock speedups, exit histogram.

    FLOPs x is Table 7's: FLOPs of the full residual model / expected FLOPs. Wall x compares the
    early-exit path with the same model's full forward on this machine.
    """
    header = (
        "model", "wiring", "heads", "policy", "tau", "acc %", "full %", "drop",
        "FLOPs x", "wall x b1", f"wall x b{large_batch}", "exits (% of test)",
    )  # fmt: skip
    rows = [
        (
            r.name,
            r.connectivity,
            r.heads,
            r.policy,
            f"{r.tau:.3g}",
            f"{r.test.accuracy:.2f}",
            f"{r.test_full_accuracy:.2f}",
            f"{r.drop:.2f}",
            f"{r.test.speedup:.2f}x",
            _wall(r, 1),
            _wall(r, large_batch),
            histogram_text(r),
        )  # fmt: skip
        for r in reports
    ]
    return table(header, rows)


def sweep_csv(report: ExitReport) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SWEEP_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in report.sweep:
        writer.writerow({k: f"{row[k]:.6g}" for k in SWEEP_FIELDS})
    return buf.getvalue()


def plot_sweeps(reports: Sequence[ExitReport], path: Path) -> None:
    """Test accuracy vs expected FLOPs (relative to the full residual model), one curve each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in reports:
        xs = [row["expected_flops"] / r.reference_flops for row in r.sweep]
        ys = [row["test_accuracy"] for row in r.sweep]
        line = ax.plot(xs, ys, marker=".", markersize=3, label=f"{r.name} ({r.policy})")[0]
        ax.plot([1 / r.test.speedup], [r.test.accuracy], "o", color=line.get_color())
    ax.set_xlabel("expected FLOPs / full residual model")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("early exit: accuracy vs cost (dots: calibrated threshold)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


def write_reports(reports: Sequence[ExitReport], out_dir: str | Path) -> list[Path]:
    """``exit_report.json``, ``sweep_<name>.csv`` per report and ``sweep.png``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "exit_report.json"]
    text = json.dumps([r.to_dict() for r in reports], indent=2)
    atomic_write(paths[0], lambda tmp: Path(tmp).write_text(text + "\n"))
    for i, r in enumerate(reports):
        path = out / f"sweep_{i}_{_slug(r.name)}.csv"
        data = sweep_csv(r)
        atomic_write(path, lambda tmp, data=data: Path(tmp).write_text(data))
        paths.append(path)
    paths.append(out / "sweep.png")
    plot_sweeps(reports, paths[-1])
    return paths


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:60] or "model"
