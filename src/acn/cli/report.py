"""``acn report [--out DIR]``: render DIR/REPORT.md from the result JSON files in DIR."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..experiments.report import write_report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="render docs/results/REPORT.md from the acn reproduce results",
        description="Render REPORT.md from the NAME.json files `acn reproduce` wrote (nothing is "
        "rerun): the paper's number beside ours, mean +- std over seeds, verdicts, plots.",
    )
    p.add_argument("--out", default="docs/results", help="results directory (default docs/results)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(f"wrote {write_report(Path(args.out))}")
    return 0
