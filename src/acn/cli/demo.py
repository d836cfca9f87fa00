"""``acn demo``: residual vs ACN twin of a small Mixer on the embedded MNIST-5k, and the ACN trained
with ``--auto-cut``, side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..experiments.demo import (
    DEMO_EPOCHS,
    GOAL_FLOPS,
    GOAL_POINTS,
    LABELS,
    DemoResult,
    autocut_goal,
    free_out_dir,
    run_demo,
)
from .args import MAX_EPOCHS, add_out, add_seed, int_in, probability

DEFAULT_OUT = "runs/demo"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="residual vs ACN Mixer, and the ACN with --auto-cut (~4-5 min)",
        description="Train a residual and an ACN version of the same small Mixer on the embedded "
        "MNIST-5k, and the ACN again with --auto-cut (its validation split carved from the "
        "training digits), then print the accuracy at every depth, each model's cutoff depth, "
        "the params and FLOPs of the cut models and each arm's training FLOPs, and draw accuracy "
        "vs depth.",
    )
    p.add_argument(
        "--epochs",
        type=int_in(1, MAX_EPOCHS),
        default=None,
        help=f"epochs per model (default {DEMO_EPOCHS})",
    )
    add_out(p, f"default {DEFAULT_OUT}, or {DEFAULT_OUT}-N if taken")
    add_seed(p, "every training")
    p.add_argument(
        "--scale",
        choices=("smoke", "cpu"),
        default="cpu",
        help="cpu: the demo (default); smoke: a few-second version on a tiny model (for tests), "
        "the same sizes as `acn reproduce demo --scale smoke`",
    )
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
    quick = args.scale == "smoke"
    result = run_demo(
        out, epochs=args.epochs, seed=args.seed, quick=quick, validation=args.validation
    )
    print(format_report(result))
    return 0


def format_report(r: DemoResult) -> str:
    """The side-by-side table the demo prints, and the demo's goal on the auto-cut arm."""
    arms = list(r.accuracy)
    depth = len(r.accuracy["residual"]) - 1
    m = r.machine
    width = 18
    lines = [
        "",
        f"Residual vs ACN twin of one Mixer, and the ACN trained with --auto-cut, {r.epochs} "
        f"epoch(s) each, on {r.data}",
        f"seed {r.seed} | wall time {r.wall_time_s:.0f} s | {m['cpu_count']} CPU(s), "
        f"{m['torch_threads']} torch threads, device {m['device']} | torch {m['torch']}",
        "",
        "depth" + "".join(f"{LABELS[a] + ' acc':>{width}}" for a in arms),
    ]
    for k in range(depth + 1):
        cells = "".join(
            f"{f'{r.accuracy[a][k]:.2f}%' if k < len(r.accuracy[a]) else '':>{width}}" for a in arms
        )
        marks = "".join(f" <- {LABELS[a]} cutoff" for a in arms if r.cutoff[a] == k)
        lines.append(f"{k:>5}{cells}{marks}")
    lines.append("")
    lines.append(f"{'':<34}" + "".join(f"{LABELS[a]:>{width}}" for a in arms))
    c = r.cost

    def depth_of(a: str) -> int:
        return len(r.accuracy[a]) - 1

    rows = [
        ("full accuracy (%)", lambda a: f"{r.accuracy[a][-1]:.2f}"),
        ("depth (blocks trained to the end)", lambda a: f"{depth_of(a)}/{depth}"),
        ("cutoff depth (within 0.5 points)", lambda a: f"{r.cutoff[a]}/{depth_of(a)}"),
        ("accuracy at cutoff (%)", lambda a: f"{r.accuracy[a][r.cutoff[a]]:.2f}"),
        ("params, full model", lambda a: f"{c[a]['params']:,}"),
        ("params, cut model", lambda a: f"{c[a]['cut_params']:,}"),
        ("MFLOPs per image, full model", lambda a: f"{c[a]['flops'] / 1e6:.2f}"),
        ("MFLOPs per image, cut model", lambda a: f"{c[a]['cut_flops'] / 1e6:.2f}"),
        ("cut / full FLOPs", lambda a: f"{c[a]['cut_flops'] / c[a]['flops']:.0%}"),
        ("training TFLOPs (counted)", lambda a: f"{r.train_flops[a] / 1e12:.3g}"),
        (
            "training FLOPs / residual's",
            lambda a: f"{r.train_flops[a] / r.train_flops['residual']:.2f}x",
        ),
    ]
    for label, value in rows:
        lines.append(f"{label:<34}" + "".join(f"{value(a):>{width}}" for a in arms))
    if "acn_autocut" in arms:
        lines += ["", goal_line(r)]
    runs = ", ".join(str(r.out_dir / a) for a in arms)
    lines += ["", f"plot: {r.plot}", f"runs: {runs}"]
    return "\n".join(lines)


def goal_line(r: DemoResult) -> str:
    """The demo's goal, on the auto-cut arm's final model against the full residual."""
    fraction, delta = autocut_goal(r)
    met = fraction <= GOAL_FLOPS and delta >= -GOAL_POINTS
    return (
        f"goal (a deployable ACN at <= {GOAL_FLOPS:.0%} of the full FLOPs within {GOAL_POINTS:g} "
        f"points of the full residual): the auto-cut ACN needs {fraction:.0%} of the FLOPs at "
        f"{delta:+.2f} points: {'met' if met else 'not met'} on this seed"
    )
