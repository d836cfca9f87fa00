"""``acn prune MODEL [MODEL ...]``: accuracy vs sparsity and vs deployed size under global
magnitude pruning or movement pruning (the paper's App. G).

``--method magnitude`` prunes each trained model at each level; ``--method movement`` fine-tunes
a copy on the model's training data and prunes it after each epoch to the next level (Sanh et al.
2020; ``--sparsities 20,40,60,80`` is the paper's setting I, ``40`` its setting II). Every pruned
model is saved, reloaded and scored at every depth, and the model as deployed (cut at the
unpruned model's cutoff depth) is counted in non-zero parameters; the table, a CSV, a JSON file
and two plots with all runs go to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

from ..compress.movement import MovementSettings
from ..compress.sweep import PruneCurve, movement_sweep, plot_curves, prune_sweep
from ..errors import ConfigError
from ..runs.evaldata import eval_data
from ..serialization import load
from ..utils import atomic_write, machine_info, table
from .args import (
    MAX_EPOCHS,
    add_eval_options,
    add_json,
    add_out,
    add_seed,
    check_out_dir,
    int_in,
    non_negative_float,
    pick_device,
    positive_batch,
    positive_float,
    print_json,
)
from .probe import run_name, unique_names

DEFAULT_LEVELS = {"magnitude": "0,10,20,30,40,50,60,70,80,90", "movement": "20,40,60,80"}


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
        help="accuracy vs deployed size, magnitude or movement pruning",
        description="Zero Linear weights of the blocks (one global threshold; embedding, head, "
        "norms and biases are kept) at each sparsity level and score every saved pruned model "
        "at every depth. magnitude: the smallest-magnitude weights of the trained model. "
        "movement: fine-tune a copy on the model's training data, scoring |W * grad| over the "
        "steps, and after each epoch raise the sparsity to the next level (masks on weights, "
        "gradients and AdamW moments). Each level also reports the non-zero parameters of the "
        "model as deployed: cut at the unpruned model's cutoff depth.",
    )
    p.add_argument(
        "runs",
        nargs="+",
        metavar="MODEL",
        help="run directories, model files (.safetensors) or pretrained directories",
    )
    p.add_argument(
        "--method",
        choices=tuple(DEFAULT_LEVELS),
        default="magnitude",
        help="pruning method (default magnitude)",
    )
    p.add_argument(
        "--sparsities",
        type=parse_levels,
        help="percentages; for movement the cumulative level after each fine-tuning epoch "
        f"(default {DEFAULT_LEVELS['magnitude']} for magnitude, "
        f"{DEFAULT_LEVELS['movement']} for movement: the paper's setting I)",
    )
    p.add_argument(
        "--lr",
        type=positive_float,
        default=MovementSettings.lr,
        help=f"movement: fine-tuning learning rate (default {MovementSettings.lr:g})",
    )
    p.add_argument(
        "--train-batch-size",
        type=positive_batch,
        default=MovementSettings.batch_size,
        help=f"movement: fine-tuning batch size (default {MovementSettings.batch_size})",
    )
    p.add_argument(
        "--recovery-epochs",
        type=int_in(1, MAX_EPOCHS),
        default=MovementSettings.recovery_epochs,
        help="movement: fine-tuning epochs after the last pruning "
        f"(default {MovementSettings.recovery_epochs})",
    )
    add_seed(p, "movement pruning's batch order and dropout")
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
    levels = args.sparsities or parse_levels(DEFAULT_LEVELS[args.method])
    if args.method == "movement":
        levels = [v for v in levels if v > 0]  # the dense model is always the first point
        if not levels:
            raise ConfigError("movement pruning needs at least one level above 0%")
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
    settings = MovementSettings(
        lr=args.lr,
        batch_size=args.train_batch_size,
        recovery_epochs=args.recovery_epochs,
        seed=args.seed,
    )
    for label, model, data in jobs:
        batches = lambda d=data: d.test_batches(args.batch_size, device)  # noqa: E731
        save_dir = out / "models" / label if args.save_models else None
        if args.method == "movement":
            curve = movement_sweep(
                model, data, batches, levels, settings, label=label,
                tolerance=args.tolerance, save_dir=save_dir,
            )  # fmt: skip
        else:
            curve = prune_sweep(
                model, batches, levels, label=label, tolerance=args.tolerance, save_dir=save_dir
            )
        curves.append(curve)
        described[label] = data.splits.describe()
    rows = [row for c in curves for row in c.rows()]
    info = {"method": args.method, "levels": levels, "data": described}
    if args.method == "movement":
        info["movement"] = vars(settings)
    info["machine"] = machine_info(device)
    report = write_outputs(out, curves, rows, info)
    if args.json:
        print_json(report)
        return 0
    for curve in curves:
        print(f"{curve.label} ({curve.connectivity}), {described[curve.label]}")
    columns = list(rows[0])
    print(table(columns, [[r[c] for c in columns] for r in rows]))
    print(f"wrote {out}/: prune.csv, prune.json, prune.png and prune_deployed.png")
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
        "pruned": "Linear weights in the blocks, one global threshold",
        **info,
        "runs": [c.to_dict() for c in curves],
    }
    text = json.dumps(report, indent=2)
    atomic_write(out / "prune.json", lambda tmp: Path(tmp).write_text(text))
    plot_curves(curves, out / "prune.png")
    plot_curves(curves, out / "prune_deployed.png", x_axis="deployed")
    return report
