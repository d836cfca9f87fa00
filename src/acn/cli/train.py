"""``acn train CONFIG.yaml [--key=value ...]``: train one model into a run directory.

``acn train --resume RUN [--key=value ...]`` continues RUN from its checkpoint with the config it
was started with; ``--print-config`` prints the resolved config (the defaults if no CONFIG) and exits.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from ..runs.config import CONFIG_FILE, load_config, merge, parse_overrides, to_yaml
from ..train.loop import train


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        allow_abbrev=False,  # so an override like --res=... is never read as --resume
        help="train a model from a YAML config",
        description="Train a model. Any config key can be overridden as --section.key=value, "
        "e.g. --optim.lr=3e-4 --model.overrides.depth=4 --epochs=20 --out_dir=runs/x.",
    )
    p.add_argument("config", nargs="?", help="YAML config file (see configs/)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in directory RUN")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument(
        "--auto-cut",
        action="store_true",
        help="cut the top blocks the network stopped using while it trains (options: "
        "--auto_cut.tolerance/margin/patience/min_epoch/val_fraction/bootstrap=...)",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bars (default: only on a terminal)"
    )
    p.set_defaults(func=run, accepts_extra=True)


def resolve(args: argparse.Namespace, extra: list[str]):
    """The TrainConfig the command line describes."""
    overrides = parse_overrides(extra)
    if args.auto_cut:
        overrides = merge(overrides, {"auto_cut": {"enabled": True}})
    if args.resume:
        if args.config:
            raise ConfigError("give either a CONFIG file or --resume RUN, not both")
        if "out_dir" in overrides:
            raise ConfigError("--out_dir cannot change when resuming; the run stays in RUN")
        run_dir = Path(args.resume)
        if not (run_dir / CONFIG_FILE).is_file():
            raise ConfigError(f"{run_dir} is not a run directory (no {CONFIG_FILE})")
        cfg = load_config(run_dir / CONFIG_FILE, overrides)
        cfg.out_dir = str(run_dir)
        return cfg
    if not args.config and not args.print_config:
        raise ConfigError("acn train needs a CONFIG.yaml (or --resume RUN)")
    return load_config(args.config, overrides)  # no file with --print-config: the defaults


def run(args: argparse.Namespace) -> int:
    cfg = resolve(args, args.extra)
    if args.print_config:
        print(to_yaml(cfg), end="")
        return 0

    train(cfg, resume=bool(args.resume), progress=False if args.no_progress else None)
    print(f"run written to {cfg.out_dir}")
    return 0
