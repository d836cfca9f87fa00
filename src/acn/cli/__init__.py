"""The ``acn`` command line: one subcommand per module in this package.

Every subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``; shared option types live in :mod:`acn.cli.args`. User errors
(:class:`acn.ACNError`) and failed file writes (``OSError``: a full disk, a read-only directory)
become one line on stderr and exit 2.
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
    "export",
    "generate",
    "bench",
    "reproduce",
    "report",
]


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (and exit code 2) instead of usage + error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"acn: error: {message} (see `{self.prog} --help`)\n")


class CommandListFormatter(argparse.HelpFormatter):
    """argparse sizes the help column without the subcommand names; count them, so that every
    subcommand's help stays on its own line."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):
            longest = max((len(a.dest) for a in action._get_subactions()), default=0)
            self._action_max_length = max(self._action_max_length, longest + 4)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="acn",
        description="Auto-Compressing Networks: train, measure, cut.",
        formatter_class=CommandListFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Subcommands that set ``accepts_extra`` (``acn train --optim.lr=3e-4``) get the arguments
    argparse does not know as ``args.extra``; for every other command they are a usage error."""
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra", False):
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        # the error names the subcommand's --help, where the valid flags are
        sub.choices.get(args.command, parser).error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    return args


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (usage errors and --help return theirs too)."""
    parser = build_parser()
    try:
        args = parse(parser, argv)
    except SystemExit as e:  # argparse exits on --help (0) and on usage errors (2)
        return e.code if isinstance(e.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ACNError as e:
        print(f"acn: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the machine, not the code: no space left, permission denied ...
        print(f"acn: error: {e}".replace("\n", " "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("acn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
