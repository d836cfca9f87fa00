"""``acn exit MODEL [MODEL ...]``: early exit on trained models.

For every run: the per-exit logits of the run's test split (cut into validation and test halves)
are computed once, the threshold is calibrated on validation to lose at most ``--tolerance``
accuracy points (or given with ``--tau``; with ``--heads final`` the single exit is a global cutoff
at a calibrated depth or at ``--cutoff-depth``), and the test result is printed with the
expected-FLOPs speedup (the paper's Table 7 definition) and the measured wall-clock speedup at
batch 1 and ``--timing-batch``. The paper's Table 7 itself is an experiment of the suite
(:mod:`acn.experiments.early_exit`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from ..exits.evaluate import ExitEvalConfig, ExitReport, evaluate_exits
from ..exits.policies import POLICIES
from ..exits.report import format_table, write_reports
from ..exits.splits import load_exit_splits
from ..models.base import StackModel
from ..models.exit_heads import HEADS
from ..runs.run import Run
from ..serialization import load
from ..utils import machine_line
from .args import (
    MAX_DEPTH,
    MAX_SAMPLES,
    add_eval_options,
    add_json,
    add_out,
    add_seed,
    add_timing_options,
    check_out_dir,
    finite_float,
    int_in,
    non_negative_float,
    pick_device,
    print_json,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "exit",
        help="early exit: calibrate a threshold, measure accuracy and speed",
        description="Early exit on trained runs. `acn exit RUN --policy entropy --tolerance 0.5` "
        "calibrates the threshold on half of the run's test split and reports the other half, "
        "with the expected-FLOPs and the measured wall-clock speedup.",
    )
    p.add_argument(
        "runs",
        nargs="+",
        metavar="MODEL",
        help="run directories, model files (.safetensors) or pretrained directories",
    )
    p.add_argument(
        "--heads",
        choices=("auto", *HEADS),
        default="auto",
        help="exits: shared head at every depth, the model's branches, or final only (a global "
        "cutoff); auto = branches if the model has them, shared if it was trained with the exit "
        "loss, else final",
    )
    p.add_argument(
        "--policy", choices=POLICIES, default="entropy", help="exit rule (default entropy)"
    )
    p.add_argument(
        "--tau",
        type=finite_float,
        help="fixed threshold instead of calibrating (entropy in nats, max-prob, patience n)",
    )
    p.add_argument(
        "--cutoff-depth",
        type=int_in(0, MAX_DEPTH),
        help="with --heads final: a fixed cutoff depth instead of calibrating it",
    )
    p.add_argument(
        "--tolerance",
        type=non_negative_float,
        default=0.5,
        help="accuracy points the calibrated threshold may lose on validation (default 0.5)",
    )
    add_eval_options(p)
    add_timing_options(p, repeats=5, warmup=1, batch_help=" and of the per-exit logits pass")
    p.add_argument(
        "--latency-samples",
        type=int_in(1, MAX_SAMPLES),
        default=100,
        help="test samples timed one at a time (default 100)",
    )
    add_seed(p, "the validation/test halves")
    add_out(p, "exit_report.json, sweep CSVs and sweep.png; default: RUN/exit for one run")
    add_json(p)
    p.set_defaults(func=run)


def eval_config(args: argparse.Namespace, heads: str) -> ExitEvalConfig:
    """The measurement; ``--tau`` is a threshold and ``--cutoff-depth`` a depth, never mixed."""
    if heads == "final" and args.tau is not None:
        which = "--heads final" if args.heads == "final" else "this run has no exit heads"
        raise ConfigError(f"--tau is an exit threshold, but {which}: use --cutoff-depth K")
    if heads != "final" and args.cutoff_depth is not None:
        raise ConfigError(f"--cutoff-depth needs --heads final (this run's exits: {heads})")
    return ExitEvalConfig(
        heads=heads,
        policy=args.policy,
        tau=args.cutoff_depth if heads == "final" else args.tau,
        target_drop=args.tolerance,
        batch_size=args.timing_batch,
        timing=not args.no_time,
        latency_samples=args.latency_samples,
        warmup=args.warmup,
        repeats=args.repeats,
    )


def detect_heads(model: StackModel, path: Path) -> str:
    """``auto``: the model's branches, else the shared head if it was trained with the exit
    loss (its ``pretrained_cfg`` says so; for older files, its run directory's config), else the
    final head alone (a global cutoff)."""
    if model.config.exit_branches:
        return "branches"
    loss = model.pretrained_cfg.get("loss")
    if loss is None and path.is_dir() and Run(path).exists:
        loss = Run(path).config.loss
    return "shared" if loss == "exits" else "final"


def measure_run(args: argparse.Namespace, path: Path) -> tuple[ExitReport, str]:
    """Load one run, split its test data and measure it; returns the report and a data line."""
    model = load(path, pick_device(args.device))
    heads = detect_heads(model, path) if args.heads == "auto" else args.heads
    cfg = eval_config(args, heads)
    val, test, described = load_exit_splits(model, path, args.data, args.batch_size, args.seed)
    name = path.name if path.is_dir() else path.stem
    return evaluate_exits(model, val, test, cfg, name=name), described


def run(args: argparse.Namespace) -> int:
    if args.heads != "auto":
        eval_config(args, args.heads)  # option clashes fail before anything is loaded
    out = args.out
    if out is None and len(args.runs) == 1 and Path(args.runs[0]).is_dir():
        out = check_out_dir(Path(args.runs[0]) / "exit")
    reports, described = [], []
    for run_path in args.runs:
        report, data = measure_run(args, Path(run_path).expanduser())
        reports.append(report)
        described.append(data)
    paths = write_reports(reports, out) if out is not None else []
    if args.json:
        print_json([{**r.to_dict(), "data": d} for r, d in zip(reports, described)])
        return 0
    for report, data in zip(reports, described):
        print(f"{report.name}: {data}")
    print(format_table(reports, args.timing_batch))
    _footer(reports)
    if paths:
        print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def _footer(reports: list[ExitReport]) -> None:
    r = reports[0]
    rule = (
        f"calibrated on validation for a drop <= {r.target_drop} points"
        if r.calibrated
        else "threshold given with --tau or --cutoff-depth"
    )
    print(
        "FLOPs x = FLOPs of the full residual model / expected FLOPs per sample (Table 7); "
        "wall x = the model's full forward time / early-exit time; "
        f"acc/full/drop on the test half; tau {rule}."
    )
    if r.machine:
        print(f"timed on {machine_line(r.machine)}")
