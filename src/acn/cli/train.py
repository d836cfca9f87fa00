"""``acn train CONFIG.yaml [--out DIR] [--section.key=value ...]``: train one model into a run directory.

``--out DIR`` sets the config key ``out_dir``; any config key can be overridden as
``--section.key=value`` (a hyphen in a key reads as an underscore: ``--batch-size=64`` is
``--batch_size=64``). ``acn train --resume RUN [--key=value ...]`` continues RUN from its checkpoint
with the config it was started with; ``--print-config`` prints the resolved config (the defaults if
no CONFIG) and exits.
"""

from __future__ import annotations

import argparse

from ..errors import ConfigError
from ..runs.config import CONFIG_FILE, load_config, merge, parse_overrides, to_yaml
from ..runs.run import Run
from ..train.loop import train
from .args import output_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        allow_abbrev=False,  # so an override like --res=... is never read as --resume
        help="train a model from a YAML config",
        description="Train a model into the run directory --out. Any config key can be "
        "overridden as --section.key=value, e.g. --optim.lr=3e-4 --model.overrides.depth=4 "
        "--epochs=20 --batch-size=64 (the training batch size; a hyphen in a key reads as an "
        "underscore).",
    )
    p.add_argument("config", nargs="?", help="YAML config file (see configs/)")
    p.add_argument(
        "--out",
        type=output_dir,
        metavar="DIR",
        help="run directory (the config key out_dir; default: the config's)",
    )
    p.add_argument("--resume", metavar="RUN", help="continue the run in directory RUN")
    p.add_argument(
        "--allow-changed-config",
        action="store_true",
        help="with --resume: accept settings that differ from the checkpoint's (batch size, "
        "optimizer, data, ...) although the run then no longer continues exactly",
    )
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


def config_overrides(extra: list[str]) -> list[str]:
    """``--batch-size=64`` -> ``--batch_size=64``: config keys are spelled with underscores."""
    out = []
    for arg in extra:
        key, sep, value = arg.partition("=")
        if arg.startswith("--") and sep:
            arg = "--" + key[2:].replace("-", "_") + sep + value
        out.append(arg)
    return out


def split_config(config: str | None, extra: list[str]) -> tuple[str | None, list[str]]:
    """(CONFIG, overrides) as the user meant them. argparse reads an argument that holds a space
    as a positional, so ``--model.overrides="{depth: 2}"`` lands in CONFIG (and a CONFIG given
    after it among the extras): put each back where it belongs."""
    extra = list(extra)
    if config is not None and config.startswith("--"):
        extra.insert(0, config)
        config = None
    if config is None:
        given = next((a for a in extra if not a.startswith("-")), None)
        if given is not None:
            extra.remove(given)
            config = given
    return config, extra


def resolve(args: argparse.Namespace, extra: list[str]):
    """The TrainConfig the command line describes."""
    args.config, extra = split_config(args.config, extra)
    overrides = parse_overrides(config_overrides(extra))
    if args.out is not None:
        if "out_dir" in overrides:
            raise ConfigError("give the run directory once: --out or --out_dir, not both")
        overrides["out_dir"] = parse_overrides([f"--out_dir={args.out}"])["out_dir"]
    if args.auto_cut:
        overrides = merge(overrides, {"auto_cut": {"enabled": True}})
    if args.resume:
        if args.config:
            raise ConfigError("give either a CONFIG file or --resume RUN, not both")
        if "out_dir" in overrides:
            raise ConfigError("--out cannot change when resuming; the run stays in RUN")
        run = Run(args.resume)
        if not run.exists:
            raise ConfigError(f"{run.path} is not a run directory (no {CONFIG_FILE})")
        cfg = load_config(run.config_path, overrides)
        cfg.out_dir = str(run.path)
        return cfg
    if not args.config and not args.print_config:
        raise ConfigError("acn train needs a CONFIG.yaml (or --resume RUN)")
    return load_config(args.config, overrides)  # no file with --print-config: the defaults


def run(args: argparse.Namespace) -> int:
    cfg = resolve(args, args.extra)
    if args.print_config:
        print(to_yaml(cfg), end="")
        return 0

    if args.allow_changed_config and not args.resume:
        raise ConfigError("--allow-changed-config only applies with --resume RUN")
    train(
        cfg,
        resume=bool(args.resume),
        allow_changed_config=args.allow_changed_config,
        progress=False if args.no_progress else None,
    )
    print(f"run written to {cfg.out_dir}")
    return 0
