"""``acn bench``: ACN vs residual, acn vs its peers, and the machine's limit, side by side."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..experiments.bench import ITEMS, SCALES, run_bench, update_readme
from ..experiments.bench.report import BENCH_BLOCK
from ..experiments.blocks import check_readme
from ..runs.run import Run
from .args import add_out, add_seed, int_in

DEFAULT_OUT = Path("runs/results")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark every family against residual, peers and the machine",
        description="Runs each benchmark item side by side in one process (warm-up, interleaved "
        "repeats, median and spread) and writes benchmarks.json and BENCHMARKS.md. Items: "
        + ", ".join(ITEMS)
        + ". Peers need the optional extra: pip install -e '.[bench]'.",
    )
    p.add_argument(
        "--scale",
        choices=list(SCALES),
        default="full",
        help="full (default); quick: small sizes, few repeats (< 2 minutes); smoke: tiny models, "
        "one repeat (checks the machinery, not the numbers)",
    )
    p.add_argument(
        "--only",
        action="append",
        choices=ITEMS,
        metavar="NAME",
        help="run only this item (repeatable); items already in OUT/benchmarks.json are kept",
    )
    add_out(p, f"default {DEFAULT_OUT}")
    p.add_argument(
        "--run", metavar="DIR", help="trained ACN run directory for deploy_speedup_vs_flops"
    )
    add_seed(p, "models and batches")
    p.add_argument(
        "--threads",
        type=int_in(1, 1024),
        help="torch intra-op threads (default: torch's; 1 suffers least "
        "from other load on a shared machine)",
    )
    p.add_argument(
        "--update-readme",
        metavar="PATH",
        type=Path,
        help=f"also rewrite the {BENCH_BLOCK} block of this README (checked before the run)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scale = args.scale
    if args.update_readme is not None:  # before the run: a README it cannot update stops it here
        check_readme(args.update_readme, [BENCH_BLOCK])
    if args.run is not None:  # likewise a run directory that holds no finished, saved model
        run = Run(args.run)
        run.summary  # noqa: B018 - reading it checks it
        if not run.has_checkpoint:
            raise CheckpointError(
                f"--run {args.run}: no saved model (checkpoint/model.safetensors)"
            )
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = args.out if args.out is not None else DEFAULT_OUT
    command = ["acn", "bench", "--scale", scale, "--out", str(out), "--seed", str(args.seed)]
    command += [w for name in args.only or [] for w in ("--only", name)]
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    log = print if not args.json else (lambda line: None)
    data = run_bench(scale, args.only, out, args.run, args.seed, log=log,
                     command=shlex.join(command))  # fmt: skip
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        wall = data["provenance"]["wall_time_s"]
        print(f"wrote {Path(out) / 'benchmarks.json'} and BENCHMARKS.md ({wall:.0f} s)")
    if args.update_readme is not None:
        update_readme(data, args.update_readme)
        if not args.json:
            print(f"updated the {BENCH_BLOCK} block in {args.update_readme}")
    return 0
