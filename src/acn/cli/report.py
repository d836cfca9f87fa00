"""``acn report [--out DIR]``: render DIR/REPORT.md from the result JSON files in DIR."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..experiments.report import write_report
from .args import add_out

DEFAULT_OUT = Path("docs/results")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="render REPORT.md from the reproduce results",
        description="Render REPORT.md from the NAME.json files `acn reproduce` wrote (nothing is "
        "rerun): the paper's number beside ours, mean +- std over seeds, verdicts, plots.",
    )
    add_out(p, "the results directory it reads and writes REPORT.md into; default docs/results")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(f"wrote {write_report(Path(args.out) if args.out is not None else DEFAULT_OUT)}")
    return 0
