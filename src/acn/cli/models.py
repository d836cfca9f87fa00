"""``acn models [PATTERN]``: list the model presets."""

from __future__ import annotations

import argparse

from ..models.registry import PRESETS, list_models
from .args import add_json, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list the model presets",
        description="List the model presets: name, family and description.",
    )
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'vit_*'")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = list_models(args.pattern)
    if args.json:
        print_json(
            [
                {"name": n, "family": PRESETS[n].family, "description": PRESETS[n].description}
                for n in names
            ]
        )
        return 0
    for name in names:
        preset = PRESETS[name]
        print(f"{name:<20} {preset.family:<6} {preset.description}")
    return 0
