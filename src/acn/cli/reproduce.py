"""``acn reproduce NAME [--scale smoke|cpu|paper] [--seeds N] [--first-seed S] [--out DIR]
[--data-root DIR] [--dry-run|--redecide] [--json]``.

Runs one experiment (or ``all``) over seeds and writes ``OUT/NAME.json`` with the verdict its
rule decides; ``acn reproduce --list`` lists the experiments and their claims.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ..errors import ConfigError
from ..experiments.catalog import experiments, get_experiment
from ..experiments.recipes import ENV_DATA
from ..experiments.runner import RunOptions, redecide, run_experiment
from ..experiments.suite import SCALES
from .args import add_out, int_in, output_dir

DEFAULT_OUT = Path("runs/results")
DEFAULT_RUNS = Path("runs/reproduce")
# experiments derive per-seed streams as seed * 1000 + i: keep them well inside torch's range
MAX_FIRST_SEED = 1_000_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        allow_abbrev=False,  # --data (a dataset spec elsewhere) must not mean --data-root here
        help="run a paper experiment over seeds, decide its verdict",
        description="Run one of the paper's experiments (see --list) over seeds, decide the "
        "claim's verdict by the rule the experiment declares, and write OUT/NAME.json and plots. "
        "Interrupted runs continue where they stopped. The smoke scale runs on data acn ships "
        "or writes; other scales may need datasets under --data-root.",
    )
    p.add_argument("name", nargs="?", help="experiment name, or 'all'")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--scale", choices=SCALES, default="cpu", help="default cpu")
    p.add_argument(
        "--seeds", type=int_in(1, 100), default=3, help="how many seeds: S..S+N-1 (default 3)"
    )
    p.add_argument(
        "--first-seed",
        type=int_in(0, MAX_FIRST_SEED),
        default=0,
        metavar="S",
        help="the first seed (default 0); a rule changed after its numbers were seen is judged "
        "on seeds never run before, e.g. --first-seed 3 --seeds 3 for seeds 3, 4, 5",
    )
    add_out(p, f"of the result JSON and plots; default {DEFAULT_OUT}")
    p.add_argument(
        "--runs",
        type=output_dir,
        metavar="DIR",
        help=f"training run directories (default {DEFAULT_RUNS})",
    )
    p.add_argument(
        "--data-root",
        type=Path,
        metavar="DIR",
        help=f"the directory holding the datasets an experiment names (default ${ENV_DATA})",
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
    p.add_argument(
        "--json", action="store_true", help="print the result (or the plan) as JSON on stdout"
    )
    p.set_defaults(func=run)


def command_line(args: argparse.Namespace) -> str:
    """The command, every option spelled out (what the provenance records)."""
    words = ["acn", "reproduce", args.name, "--scale", args.scale, "--seeds", str(args.seeds)]
    if args.first_seed:
        words += ["--first-seed", str(args.first_seed)]
    words += ["--out", str(args.out or DEFAULT_OUT), "--runs", str(args.runs or DEFAULT_RUNS)]
    if args.data_root is not None:
        words += ["--data-root", str(args.data_root)]
    if args.device != "auto":
        words += ["--device", args.device]
    if args.note:
        words += ["--note", args.note]
    return shlex.join(words)


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
    log = (lambda line: print(line, file=sys.stderr)) if args.json else print
    if args.name == "all":  # every experiment that has this scale
        names = [n for n, e in registered.items() if args.scale in e.scales]
        skipped = sorted(set(registered) - set(names))
        if skipped:
            log(f"no {args.scale} scale (skipped): {', '.join(skipped)}")
    else:
        names = [get_experiment(args.name).name]
    opts = RunOptions(
        scale=args.scale,
        seeds=args.seeds,
        first_seed=args.first_seed,
        out=args.out if args.out is not None else DEFAULT_OUT,
        runs=args.runs if args.runs is not None else DEFAULT_RUNS,
        data_root=args.data_root,
        device=args.device,
        dry_run=args.dry_run,
        note=args.note,
        command=command_line(args),
    )
    results = []
    for name in names:
        if args.redecide:
            results.append(redecide(registered[name], opts.out, log=log))
        else:
            results.append(run_experiment(registered[name], opts, log=log))
    if args.json:
        print(json.dumps(results[0] if args.name != "all" else results, indent=2))
    return 0
