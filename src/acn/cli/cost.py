"""``acn cost MODEL``: parameters, FLOPs, size on disk and speed of a preset or a saved model."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..compress.cost import cost
from ..compress.report import format_cost
from ..connectivity import MODES
from ..errors import ConfigError
from ..models.base import StackModel
from ..models.registry import PRESETS, create_model
from ..serialization import load
from ..utils import mib, si
from .args import (
    MAX_CLASSES,
    MAX_DEPTH,
    add_json,
    add_timing_options,
    int_in,
    positive_batch,
    print_json,
)

# a preset resized with --preset-depth / --num-classes is sized on the meta device before it is built
MAX_PARAMS = 2_000_000_000


def build_preset(name: str, connectivity: str, depth: int | None, num_classes: int | None):
    """The preset, refused in one line if the overrides make it absurdly large."""
    if depth is not None or num_classes is not None:
        with torch.device("meta"):  # shapes only: no memory, no init
            shell = create_model(name, connectivity, depth=depth, num_classes=num_classes)
        params = shell.num_params()
        if params > MAX_PARAMS:
            given = {"--preset-depth": depth, "--num-classes": num_classes}
            sizes = " ".join(f"{flag} {v}" for flag, v in given.items() if v is not None)
            raise ConfigError(
                f"{name} with {sizes} has {si(params)} parameters ({mib(4 * params)} in "
                f"float32); acn cost builds at most {si(MAX_PARAMS)}"
            )
    return create_model(name, connectivity, depth=depth, num_classes=num_classes)


def resolve_model(args: argparse.Namespace) -> StackModel:
    """A preset name (built fresh, resized as asked) or a model file / run directory (loaded);
    then cut to its first ``--depth`` blocks."""
    name, resize = args.model, (args.preset_depth, args.num_classes)
    if name in PRESETS:
        model = build_preset(name, args.connectivity, *resize)
    elif Path(name).exists() or name.endswith(".safetensors") or "/" in name:
        if resize != (None, None):
            raise ConfigError(
                "--preset-depth/--num-classes resize a preset, not a saved model "
                "(--depth K keeps its first K blocks)"
            )
        model = load(name)
    else:
        model = create_model(name)  # raises the one-line "unknown model" error
    return model if args.depth is None else model.cut_(args.depth)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cost",
        help="params, FLOPs, size and speed of a model",
        description="Cost of a model preset (or a saved model / run directory), measured on its "
        "example input: distinct params, FLOPs = 2 x MACs counted with FlopCounterMode "
        "(attention included; also without attention, the paper's Table 6 convention), FLOPs "
        "at every depth, size of the saved file, and latency and throughput (--no-time skips "
        "them). --depth K measures the model cut to its first K blocks.",
    )
    p.add_argument("model", help="preset name (see `acn models`), model file or run directory")
    p.add_argument(
        "--connectivity", choices=MODES, default="acn", help="wiring of a preset (default acn)"
    )
    p.add_argument(
        "--depth",
        type=int_in(0, MAX_DEPTH),
        help="keep exactly this many blocks (the model cut at depth K)",
    )
    p.add_argument(
        "--preset-depth",
        type=int_in(1, MAX_DEPTH),
        help="build the preset with this many blocks instead of its own",
    )
    p.add_argument(
        "--num-classes", type=int_in(1, MAX_CLASSES), help="override a preset's number of classes"
    )
    p.add_argument(
        "--batch-size",
        type=positive_batch,
        default=1,
        help="batch size the FLOPs are counted at (default 1)",
    )
    add_timing_options(p, repeats=10, warmup=3)
    add_json(p)
    p.set_defaults(func=run)


def measure(model: StackModel, args: argparse.Namespace) -> dict:
    return cost(
        model,
        args.batch_size,
        timing=not args.no_time,
        throughput_batch=args.timing_batch,
        warmup=args.warmup,
        repeats=args.repeats,
    )


def run(args: argparse.Namespace) -> int:
    report = measure(resolve_model(args), args)
    if args.json:
        print_json(report)
    else:
        print(format_cost(report))
    return 0
