"""``acn reproduce NAME [--scale smoke|cpu|paper] [--seeds N] [--out DIR] [--dry-run|--redecide]``.

Runs one paper experiment (or ``all``) over seeds and writes ``OUT/NAME.json`` with the verdict
its rule decides; ``acn reproduce --list`` lists the experiments and their claims.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from ..experiments.catalog import experiments
from ..experiments.runner import RunOptions, default_data_root, redecide, run_experiment
from ..experiments.suite import SCALES, get_experiment
from .args import add_out, int_in

DEFAULT_OUT = Path("docs/results")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="run a paper experiment over seeds, decide its verdict",
        description="Run one of the paper's experiments (see --list) over seeds, decide the "
        "claim's verdict by the rule the experiment declares, and write OUT/NAME.json and plots. "
        "Interrupted runs continue where they stopped.",
    )
    p.add_argument("name", nargs="?", help="experiment name, or 'all'")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--scale", choices=SCALES, default="cpu", help="default cpu")
    p.add_argument("--seeds", type=int_in(1, 100), default=3, help="seeds 0..N-1 (default 3)")
    add_out(p, "of the result JSON and plots; default docs/results")
    p.add_argument(
        "--runs", default="runs/reproduce", help="training run directories (default runs/reproduce)"
    )
    p.add_argument(
        "--data", default=None, help=f"dataset root (default $ACN_DATA or {default_data_root()})"
    )
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:N")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="build every model, check data paths, one optimizer step each, print the plan",
    )
    p.add_argument("--note", default="", help="a note stored in the result (e.g. shared machine)")
    p.add_argument(
        "--redecide",
        action="store_true",
        help="re-apply the experiment's current rule to the per-seed numbers in OUT/NAME.json "
        "(nothing is trained; a changed verdict keeps the previous one under 'redecided'; "
        "missing plots are drawn from the same numbers)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    registered = experiments()
    if args.list:
        width = max(map(len, registered), default=4) + 2
        print(f"{'name':<{width}}{'scales':<20}title")
        for n, e in registered.items():
            print(f"{n:<{width}}{', '.join(e.scales):<20}{e.title}")
        return 0
    if not args.name:
        raise ConfigError("acn reproduce needs an experiment NAME (see --list)")
    if args.redecide and args.dry_run:
        raise ConfigError("--redecide reads a written result; it cannot be combined with --dry-run")
    if args.name == "all":  # every experiment that has this scale
        names = [n for n, e in registered.items() if args.scale in e.scales]
        skipped = sorted(set(registered) - set(names))
        if skipped:
            print(f"no {args.scale} scale (skipped): {', '.join(skipped)}")
    else:
        names = [get_experiment(args.name).name]
    opts = RunOptions(
        scale=args.scale,
        seeds=args.seeds,
        out=Path(args.out) if args.out is not None else DEFAULT_OUT,
        runs=Path(args.runs),
        data_root=Path(args.data) if args.data else None,
        device=args.device,
        dry_run=args.dry_run,
        note=args.note,
    )
    for name in names:
        if args.redecide:
            redecide(registered[name], opts.out)
        else:
            run_experiment(registered[name], opts)
    return 0
