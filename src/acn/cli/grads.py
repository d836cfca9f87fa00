"""``acn grads RUN [RUN ...]``: blocks x epochs heatmaps from training runs' ``metrics.jsonl``.

Draws, one panel per run on a shared colour scale: per-block gradient norms (paper Fig. 1) with
the early-vs-late ratio per epoch, the DG/FG statistics the runs logged (``grad_stats: true``: the
cosine of the MLP first weight, the authors' statistic for Fig. 2 right, and the norm ratio, both
averaged over the training steps; ``dg_share: true``: the norm ratio on a fixed test batch) and
the incremental accuracy of every layer over training (paper Fig. 1 right).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..analysis.history import (
    NORM_VIEWS,
    NORMALIZATIONS,
    Heatmap,
    early_late_ratios,
    run_heatmaps,
)
from ..analysis.plots import plot_heatmaps
from ..utils import atomic_write, json_safe
from .args import add_json, add_out, check_out_dir, print_json
from .probe import unique_names

# view -> (file stem, title, colour-bar label, diverging colour map centred on 0)
FIGURES = {
    "grad_norm": ("grad_norms", "Gradient norm per block", "gradient L2 norm", False),
    "probe_grad_norm": (
        "probe_grad_norms",
        "Gradient norm of each block's MLP first weight",
        "gradient L2 norm",
        False,
    ),
    "dg_cosine": (
        "dg_cosine",
        "cos(DG, FG) of each block's MLP first weight, mean over training steps",
        "cosine",
        False,
    ),
    "dg_norm_ratio": (
        "dg_norm_ratio",
        "||DG|| / ||FG|| per block, mean over training steps",
        "norm ratio",
        False,
    ),
    "dg_share": (
        "dg_share",
        "Direct-gradient share ||DG|| / ||FG|| on a fixed test batch",
        "DG share",
        False,
    ),
    "incremental": (
        "incremental",
        "Incremental accuracy acc(k) - acc(k-1)",
        "accuracy points",
        True,
    ),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "grads",
        help="heatmaps: gradient norms, DG/FG cosine and ratio",
        description="Read RUN/metrics.jsonl of training runs and draw blocks x epochs heatmaps "
        "(one panel per run, one colour scale per figure): gradient norm per block (with the "
        "ratio of the first quarter of the blocks to the last quarter per epoch), the DG/FG "
        "cosine and norm ratio (if the runs were trained with grad_stats: true), the "
        "direct-gradient share on a fixed batch (dg_share: true) and each layer's incremental "
        "accuracy. --normalize epoch divides every epoch's gradient norms by that epoch's "
        "largest one (cosines, ratios and accuracies are never rescaled); the default plots "
        "raw values.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="training run directories")
    p.add_argument(
        "--normalize",
        choices=NORMALIZATIONS,
        default="none",
        help="rescaling of the gradient norms (default none)",
    )
    add_out(p, "default: RUN/grads for one run, else ./grads")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    runs = [Path(r).expanduser() for r in args.runs]
    out = check_out_dir(args.out or (runs[0] / "grads" if len(runs) == 1 else Path("grads")))
    names = unique_names([r.resolve().name for r in runs])
    per_run = [run_heatmaps(r, name, args.normalize) for r, name in zip(runs, names)]
    written, data, lines = [], {}, []
    for view, (stem, title, bar, symmetric) in FIGURES.items():
        panels: list[Heatmap] = [maps[view] for maps in per_run if view in maps]
        if not panels:
            continue
        if view == "grad_norm" and args.normalize == "epoch":
            title += " (each epoch / its max)"
        vmin, vmax = plot_heatmaps(panels, out / f"{stem}.png", title, bar, symmetric)
        written.append(f"{stem}.png")
        data[view] = {"vmin": vmin, "vmax": vmax, "runs": [vars(p) for p in panels]}
        for p in panels:
            last = ", ".join(f"{v:.3g}" for v in (row[-1] for row in p.values))
            lines.append(
                f"{p.label}: {view} at epoch {p.epochs[-1]} (blocks 1..{p.num_blocks}): {last}"
            )
            if view in NORM_VIEWS:
                ratios = early_late_ratios(p)
                data[view].setdefault("early_late_ratio", {})[p.label] = ratios
                lines.append(
                    f"{p.label}: {view} first/last quarter of the blocks: {ratios[0]:.3g} at "
                    f"epoch {p.epochs[0]}, {ratios[-1]:.3g} at epoch {p.epochs[-1]}"
                )
    for key, flag in (("dg_cosine", "--grad_stats=true"), ("dg_share", "--dg_share=true")):
        missing = [n for n, maps in zip(names, per_run) if key not in maps]
        if missing:
            lines.append(f"no {key} logged by {', '.join(missing)} (train with {flag})")
    report = json_safe({"normalize": args.normalize, **data})
    text = json.dumps(report, indent=2) + "\n"
    atomic_write(out / "grads.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    if args.json:
        print_json(report)
        return 0
    print("\n".join(lines))
    print(f"wrote {out}/: {', '.join(written + ['grads.json'])}")
    return 0
