"""``acn bench``: ACN vs residual, acn vs its peers, and the machine's limit, side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..experiments.bench import ITEMS, SCALES, run_bench, update_readme
from .args import add_out, add_seed, int_in

DEFAULT_OUT = Path("docs/results")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark every family against residual, peers and the machine",
        description="Runs each benchmark item side by side in one process (warm-up, interleaved "
        "repeats, median and spread) and writes benchmarks.json and BENCHMARKS.md. Items: "
        + ", ".join(ITEMS)
        + ". Peers need the optional extra: pip install -e '.[bench]'.",
    )
    p.add_argument("--quick", action="store_true", help="small sizes, few repeats (< 2 minutes)")
    p.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tests: tiny models
    p.add_argument(
        "--only",
        action="append",
        choices=ITEMS,
        metavar="NAME",
        help="run only this item (repeatable)",
    )
    add_out(p, "default docs/results")
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
        help="also rewrite the benchmark table between the markers in this README",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scale = "smoke" if args.smoke else "quick" if args.quick else "full"
    assert scale in SCALES
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = args.out if args.out is not None else DEFAULT_OUT
    data = run_bench(scale, args.only, out, args.run, args.seed)
    print(f"wrote {Path(out) / 'benchmarks.json'} and BENCHMARKS.md ({data['wall_s']:.0f} s)")
    if args.update_readme and update_readme(data, Path(args.update_readme)):
        print(f"updated the benchmark table in {args.update_readme}")
    return 0
