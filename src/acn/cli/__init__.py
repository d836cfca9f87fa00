"""The ``acn`` command line: one subcommand per module in this package.

Every subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``. User errors (:class:`acn.ACNError`) become one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import ACNError

# subcommand modules, in the order `acn --help` lists them
COMMANDS = [
    "demo",
    "models",
    "cost",
    "compress",
    "prune",
    "train",
    "probe",
    "grads",
    "exit",
    "reproduce",
    "report",
]


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (and exit code 2) instead of usage + error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"acn: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="acn", description="Auto-Compressing Networks: train, measure, cut."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Subcommands that set `accepts_extra` (e.g. `acn train --optim.lr=3e-4`) get the arguments
    # argparse does not know as `args.extra`; for every other command they are a usage error.
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ACNError as e:
        print(f"acn: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("acn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
