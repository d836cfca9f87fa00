"""``acn models [PATTERN]``: list the model presets."""

from __future__ import annotations

import argparse

from ..models.registry import PRESETS, list_models


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list the model presets",
        description="List the model presets: name, family and description.",
    )
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'vit_*'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for name in list_models(args.pattern):
        preset = PRESETS[name]
        print(f"{name:<20} {preset.family:<6} {preset.description}")
    return 0
