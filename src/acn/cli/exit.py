"""``acn exit RUN [RUN ...]``: early exit on trained runs; ``acn exit table7``: the paper's Table 7.

For every run: the per-exit logits of the run's test split (cut into validation and test halves)
are computed once, the threshold is calibrated on validation to meet ``--target-drop`` (or given
with ``--tau``), and the test result at that threshold is printed with the expected-FLOPs speedup
(Table 7's definition) and the measured wall-clock speedup at batch 1 and ``--batch``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..errors import ConfigError
from ..exits.evaluate import ExitEvalConfig, ExitReport, evaluate_exits
from ..exits.policies import POLICIES
from ..exits.report import format_table, write_reports
from ..exits.splits import load_exit_splits
from ..experiments.early_exit import Table7Config
from ..experiments.early_exit import run_table7 as run_all
from ..models.base import StackModel
from ..models.exit_heads import HEADS
from ..runs.evaldata import find_run_config, run_config
from ..serialization import load
from ..utils import machine_line
from .compress import add_eval_options, pick_device

TABLE7 = "table7"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "exit",
        help="early exit: calibrate a threshold, measure accuracy and speedup (Table 7)",
        description="Early exit on trained runs. `acn exit RUN --policy entropy --target-drop 0.5` "
        "calibrates the threshold on half of the run's test split and reports the other half. "
        "`acn exit table7 [--epochs N] [--quick]` trains the paper's six configurations "
        "(residual/ACN x plain/branches/shared head) on MNIST-5k and compares them "
        "(a run directory literally named table7 can be given as ./table7).",
    )
    p.add_argument(
        "runs", nargs="+", metavar="RUN", help="run directories or model files, or table7"
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
        type=float,
        help="fixed threshold instead of calibrating (entropy in nats, max-prob, patience n; "
        "with --heads final: the cutoff depth)",
    )
    p.add_argument(
        "--target-drop",
        type=float,
        default=0.5,
        help="accuracy points the calibrated threshold may lose on validation (default 0.5)",
    )
    add_eval_options(p)
    p.add_argument("--batch", type=int, default=256, help="large timing batch (default 256)")
    p.add_argument(
        "--latency-samples", type=int, default=100, help="samples timed at batch 1 (default 100)"
    )
    p.add_argument("--repeats", type=int, default=5, help="timed repeats, median used (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up passes (default 1)")
    p.add_argument("--no-time", action="store_true", help="skip the wall-clock measurements")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the validation/test halves")
    p.add_argument(
        "--out",
        help="write exit_report.json, sweep CSVs and sweep.png here "
        "(default: RUN/exit for one run directory, runs/table7 for table7)",
    )
    p.add_argument("--epochs", type=int, help="table7: epochs per configuration (default 8)")
    p.add_argument("--quick", action="store_true", help="table7: tiny models, 1 epoch (smoke test)")
    p.set_defaults(func=run)


def eval_config(args: argparse.Namespace, heads: str = "shared") -> ExitEvalConfig:
    return ExitEvalConfig(
        heads=heads,
        policy=args.policy,
        tau=args.tau,
        target_drop=args.target_drop,
        batch_size=args.batch,
        timing=not args.no_time,
        latency_samples=args.latency_samples,
        warmup=args.warmup,
        repeats=args.repeats,
    )


def detect_heads(model: StackModel, path: Path) -> str:
    """``auto``: the model's branches, else the shared head if its run trained with the exit
    loss, else the final head alone (a global cutoff)."""
    if model.config.exit_branches:
        return "branches"
    if find_run_config(path) is not None and run_config(path).loss == "exits":
        return "shared"
    return "final"


def measure_run(args: argparse.Namespace, path: Path) -> tuple[ExitReport, str]:
    """Load one run, split its test data and measure it; returns the report and a data line."""
    model = load(path, pick_device(args.device))
    heads = detect_heads(model, path) if args.heads == "auto" else args.heads
    cfg = eval_config(args, heads)
    val, test, described = load_exit_splits(
        model, path, args.data, args.eval_batch_size, args.split_seed
    )
    name = path.name if path.is_dir() else path.stem
    return evaluate_exits(model, val, test, cfg, name=name), described


def run(args: argparse.Namespace) -> int:
    if args.eval_batch_size < 1:
        raise ConfigError("--eval-batch-size must be >= 1")
    eval_config(args)  # checks the measurement options before anything is loaded or trained
    if args.runs == [TABLE7]:
        return run_table7(args)
    if args.epochs is not None or args.quick:
        raise ConfigError("--epochs and --quick only apply to `acn exit table7`")
    reports = []
    for run_path in args.runs:
        path = Path(run_path).expanduser()
        report, described = measure_run(args, path)
        print(f"{report.name}: {described}")
        reports.append(report)
    print(format_table(reports, args.batch))
    _footer(reports)
    out = args.out
    if out is None and len(args.runs) == 1 and Path(args.runs[0]).is_dir():
        out = Path(args.runs[0]) / "exit"
    if out is not None:
        paths = write_reports(reports, out)
        print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def run_table7(args: argparse.Namespace) -> int:

    if args.data is not None or args.tau is not None:
        raise ConfigError("table7 trains on MNIST-5k and calibrates every row; drop --data/--tau")
    changes = {"out_dir": args.out or "runs/table7"}
    if args.epochs is not None:
        if args.epochs < 1:
            raise ConfigError(f"--epochs must be >= 1, got {args.epochs}")
        changes["epochs"] = args.epochs
    config = Table7Config.quick(**changes) if args.quick else Table7Config(**changes)
    # the CLI's measurement options replace the defaults (quick mode keeps its short timing)
    ev = eval_config(args)
    if args.quick:
        ev = dataclasses.replace(
            ev, latency_samples=config.evaluation.latency_samples, repeats=1, warmup=0
        )
    config = dataclasses.replace(config, evaluation=ev)
    reports = run_all(config)
    print(format_table(reports, args.batch))
    _footer(reports)
    paths = write_reports(reports, config.out_dir)
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def _footer(reports: list[ExitReport]) -> None:
    r = reports[0]
    rule = (
        f"calibrated on validation for a drop <= {r.target_drop} points"
        if r.calibrated
        else "threshold given with --tau"
    )
    print(
        "FLOPs x = FLOPs of the full residual model / expected FLOPs per sample (Table 7); "
        "wall x = the model's full forward time / early-exit time; "
        f"acc/full/drop on the test half; tau {rule}."
    )
    if r.machine:
        print(f"timed on {machine_line(r.machine)}")
