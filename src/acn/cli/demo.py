"""``acn demo``: residual vs ACN twin of a small Mixer on the embedded MNIST-5k, side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..experiments.demo import DEMO_EPOCHS, DemoResult, free_out_dir, run_demo
from .args import MAX_EPOCHS, add_out, add_seed, int_in, probability

DEFAULT_OUT = "runs/demo"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="residual vs ACN Mixer on MNIST-5k, side by side (~4 min)",
        description="Train a residual and an ACN version of the same small Mixer on the embedded "
        "MNIST-5k, then print the accuracy at every depth, each model's cutoff depth and the "
        "params and FLOPs of the cut models, and draw accuracy vs depth.",
    )
    p.add_argument(
        "--epochs",
        type=int_in(1, MAX_EPOCHS),
        default=None,
        help=f"epochs per model (default {DEMO_EPOCHS})",
    )
    add_out(p, f"default {DEFAULT_OUT}, or {DEFAULT_OUT}-N if taken")
    add_seed(p, "both trainings")
    p.add_argument(
        "--scale",
        choices=("smoke", "cpu"),
        default="cpu",
        help="cpu: the demo (default); smoke: a few-second version on a tiny model (for tests), "
        "the same sizes as `acn reproduce demo --scale smoke`",
    )
    p.add_argument("--quick", action="store_true", help=argparse.SUPPRESS)  # = --scale smoke
    p.add_argument(
        "--validation",
        type=probability,
        default=0.0,
        metavar="FRACTION",
        help="hold out this fraction of the training digits and report on it instead of the test "
        "set (how the demo's config was chosen)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = free_out_dir(Path(args.out or DEFAULT_OUT), explicit=args.out is not None)
    quick = args.quick or args.scale == "smoke"
    result = run_demo(
        out, epochs=args.epochs, seed=args.seed, quick=quick, validation=args.validation
    )
    print(format_report(result))
    return 0


def format_report(r: DemoResult) -> str:
    """The side-by-side table the demo prints."""
    res, ac = r.accuracy["residual"], r.accuracy["acn"]
    depth = len(res) - 1
    m = r.machine
    lines = [
        "",
        f"Residual vs ACN twin of one Mixer, {r.epochs} epoch(s) each, on {r.data}",
        f"seed {r.seed} | wall time {r.wall_time_s:.0f} s | {m['cpu_count']} CPU(s), "
        f"{m['torch_threads']} torch threads, device {m['device']} | torch {m['torch']}",
        "",
        "depth  residual acc  acn acc",
    ]
    for k in range(depth + 1):
        marks = "".join(f" <- {conn} cutoff" for conn in ("residual", "acn") if r.cutoff[conn] == k)
        lines.append(f"{k:>5}  {res[k]:>11.2f}%  {ac[k]:>6.2f}%{marks}")
    lines.append("")
    lines.append(f"{'':<34}{'residual':>12}{'acn':>12}")
    c = r.cost
    rows = [
        ("full accuracy (%)", lambda n: f"{r.accuracy[n][-1]:.2f}"),
        ("cutoff depth (within 0.5 points)", lambda n: f"{r.cutoff[n]}/{depth}"),
        ("accuracy at cutoff (%)", lambda n: f"{r.accuracy[n][r.cutoff[n]]:.2f}"),
        ("params, full model", lambda n: f"{c[n]['params']:,}"),
        ("params, cut model", lambda n: f"{c[n]['cut_params']:,}"),
        ("MFLOPs per image, full model", lambda n: f"{c[n]['flops'] / 1e6:.2f}"),
        ("MFLOPs per image, cut model", lambda n: f"{c[n]['cut_flops'] / 1e6:.2f}"),
        ("cut / full FLOPs", lambda n: f"{c[n]['cut_flops'] / c[n]['flops']:.0%}"),
    ]
    for label, value in rows:
        lines.append(f"{label:<34}{value('residual'):>12}{value('acn'):>12}")
    lines += ["", f"plot: {r.plot}", f"runs: {r.out_dir / 'residual'}, {r.out_dir / 'acn'}"]
    return "\n".join(lines)
