"""``acn report [--out DIR] [--readme README.md] [--check] [--json]``: render REPORT.md,
BENCHMARKS.md and the README's generated blocks from the result files in DIR."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..experiments.publish import publish
from .args import add_out

DEFAULT_OUT = Path("runs/results")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="render REPORT.md (and the README's tables) from the results",
        description="Render REPORT.md and BENCHMARKS.md from the result files `acn reproduce` "
        "and `acn bench` wrote into DIR (nothing is rerun): the paper's number beside ours, mean "
        "+- std over seeds, verdicts, plots, provenance. With --readme, also rewrite the README's "
        "generated blocks (<!-- NAME:begin --> ... <!-- NAME:end -->); every result must have one.",
    )
    add_out(p, f"the results directory it reads and writes into; default {DEFAULT_OUT}")
    p.add_argument("--readme", type=Path, metavar="PATH", help="a README with generated blocks")
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and name every file or README block that is out of date "
        "(or a result the README does not show)",
    )
    p.add_argument("--json", action="store_true", help="print what was found as JSON on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out is not None else DEFAULT_OUT
    done = publish(out, args.readme, check=args.check)
    if args.json:
        print(json.dumps({"results": [str(p) for p in done.results],
                          "written": [str(p) for p in done.written],
                          "stale": done.stale}, indent=2))  # fmt: skip
    if args.check:
        for line in done.stale:
            print(f"stale: {line}", file=sys.stderr)
        if not args.json:
            state = "out of date" if done.stale else "up to date"
            print(f"{len(done.results)} result(s) in {out}: generated files {state}")
        return 1 if done.stale else 0
    if not args.json:
        for path in done.written:
            print(f"wrote {path}")
        if not done.written:
            print(f"{len(done.results)} result(s) in {out}: everything up to date")
    return 0
