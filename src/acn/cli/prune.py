"""``acn prune MODEL [MODEL ...]``: accuracy vs sparsity under global magnitude pruning (App. G).

Every run is pruned at each level, saved, reloaded and scored at every depth; the table, a CSV, a
JSON file and one plot with all runs (e.g. an ACN and a residual run) go to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

from ..compress.sweep import PruneCurve, plot_curves, prune_sweep
from ..runs.evaldata import eval_data
from ..serialization import load
from ..utils import atomic_write, machine_info, table
from .args import (
    add_eval_options,
    add_json,
    add_out,
    check_out_dir,
    non_negative_float,
    pick_device,
    print_json,
)
from .probe import run_name, unique_names

DEFAULT_LEVELS = "0,10,20,30,40,50,60,70,80,90"


def parse_levels(text: str) -> list[float]:
    """'0,10,...,90' style percentages -> sorted fractions (an argparse type)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated percentages, got {text!r}"
        ) from None
    if not values or any(not 0 <= v <= 100 for v in values):  # NaN fails 0 <= v
        raise argparse.ArgumentTypeError(f"expected percentages in 0..100, got {text!r}")
    return sorted({v / 100 for v in values})


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prune",
        help="accuracy vs sparsity under global magnitude pruning",
        description="Zero the smallest-magnitude Linear weights of the blocks (one global "
        "threshold; embedding, head, norms and biases are kept) at each sparsity level, and "
        "score every saved pruned model at full depth and at the run's cutoff depth.",
    )
    p.add_argument(
        "runs",
        nargs="+",
        metavar="MODEL",
        help="run directories, model files (.safetensors) or pretrained directories",
    )
    p.add_argument(
        "--sparsities",
        type=parse_levels,
        default=DEFAULT_LEVELS,
        help=f"percentages (default {DEFAULT_LEVELS})",
    )
    add_out(p, "default ./prune")
    p.add_argument(
        "--tolerance",
        type=non_negative_float,
        default=0.5,
        help="accuracy points for the cutoff depth (default 0.5)",
    )
    p.add_argument("--save-models", action="store_true", help="keep the pruned model files")
    add_eval_options(p)
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    levels = args.sparsities
    device = pick_device(args.device)
    out = check_out_dir(args.out or "prune")
    # load everything first, so a bad run fails before any long sweep
    jobs = []
    labels = unique_names([run_name(Path(r).expanduser()) for r in args.runs])
    for source, label in zip(args.runs, labels):
        model = load(source, device)
        data = eval_data(model, source, args.data)
        jobs.append((label, model, data))
    curves, described = [], {}
    for label, model, data in jobs:
        curve = prune_sweep(
            model,
            lambda d=data: d.test_batches(args.batch_size, device),
            levels,
            label=label,
            tolerance=args.tolerance,
            save_dir=out / "models" / label if args.save_models else None,
        )
        curves.append(curve)
        described[label] = data.splits.describe()
    rows = [row for c in curves for row in c.rows()]
    info = {"levels": levels, "data": described, "machine": machine_info(device)}
    report = write_outputs(out, curves, rows, info)
    if args.json:
        print_json(report)
        return 0
    for curve in curves:
        print(f"{curve.label} ({curve.connectivity}), {described[curve.label]}")
    columns = list(rows[0])
    print(table(columns, [[r[c] for c in columns] for r in rows]))
    print(f"wrote {out / 'prune.csv'}, {out / 'prune.json'} and {out / 'prune.png'}")
    return 0


def write_outputs(
    out: Path, curves: list[PruneCurve], rows: list[dict[str, Any]], info: dict[str, Any]
) -> dict[str, Any]:
    """prune.csv (one row per run and level), prune.json (everything, returned) and prune.png."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(out / "prune.csv", lambda tmp: Path(tmp).write_text(buf.getvalue()))
    report = {
        "method": "global magnitude pruning of Linear weights in the blocks",
        **info,
        "runs": [c.to_dict() for c in curves],
    }
    text = json.dumps(report, indent=2)
    atomic_write(out / "prune.json", lambda tmp: Path(tmp).write_text(text))
    plot_curves(curves, out / "prune.png")
    return report
