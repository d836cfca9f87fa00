"""``acn compress RUN_OR_CHECKPOINT (--tolerance T | --depth K)``: cut a trained model at its cutoff.

Writes a standalone truncated model file (``acn.load`` rebuilds it) and a JSON report beside it,
and prints before/after accuracy, params, FLOPs, size, latency and throughput side by side.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ..compress.report import comparison_rows
from ..compress.truncate import compress
from ..errors import ConfigError
from ..runs.evaldata import eval_data
from ..serialization import load, resolve_model_path
from ..train.distributed import resolve_device
from ..utils import atomic_write, machine_line, table


def add_eval_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the commands that score a trained run on its test split."""
    p.add_argument("--data", metavar="SPEC", help="test data (default: the run's config.yaml)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--eval-batch-size", type=int, default=500, help="test batch size")


def pick_device(name: str | None) -> torch.device:
    """``--device`` (default: cuda if available, else cpu)."""
    return resolve_device(name or "auto")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compress",
        help="cut a trained model at its cutoff depth and compare before/after",
        description="Score every depth of a trained model on its test split (one pass), keep "
        "the first K blocks (K = --depth, or the smallest depth within --tolerance accuracy "
        "points of the full model), save them as a standalone model file and report both "
        "models side by side.",
    )
    p.add_argument("model", help="run directory or model file (.safetensors)")
    rule = p.add_mutually_exclusive_group()
    rule.add_argument("--tolerance", type=float, default=0.5, help="accuracy points (default 0.5)")
    rule.add_argument("--depth", type=int, help="keep exactly this many blocks")
    p.add_argument("--out", help="output model file (default: RUN/compressed/model.safetensors)")
    add_eval_options(p)
    p.add_argument("--batch", type=int, default=256, help="throughput batch size (default 256)")
    p.add_argument("--repeats", type=int, default=10, help="timed repeats (median reported)")
    p.add_argument("--warmup", type=int, default=3, help="untimed warm-up forwards")
    p.add_argument("--no-time", action="store_true", help="skip latency/throughput")
    p.set_defaults(func=run)


def default_out(source: Path, given: str | None) -> Path:
    """Where the compressed model goes; never over the model it is cut from."""
    src = resolve_model_path(source)
    if given is not None:
        out = Path(given).expanduser()
    elif source.is_dir():
        out = source / "compressed" / "model.safetensors"
    else:
        out = src.with_name(f"{src.stem}.compressed.safetensors")
    if out.exists() and out.resolve() == src.resolve():
        raise ConfigError(f"--out {out} is the model being compressed; choose another path")
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file path")
    return out


def run(args: argparse.Namespace) -> int:
    source = Path(args.model).expanduser()
    out = default_out(source, args.out)
    if args.eval_batch_size < 1 or args.batch < 1:
        raise ConfigError("batch sizes must be >= 1")
    device = pick_device(args.device)
    model = load(source, device)
    data = eval_data(model, source, args.data)
    timing = None
    if not args.no_time:
        timing = {"throughput_batch": args.batch, "repeats": args.repeats, "warmup": args.warmup}
    result = compress(
        model,
        lambda: data.test_batches(args.eval_batch_size, device),
        out,
        tolerance=None if args.depth is not None else args.tolerance,
        depth=args.depth,
        timing=timing,
        metadata={"compressed_from": str(resolve_model_path(source))},
    )
    report = {**result.report, "source": str(source), "data": data.splits.describe()}
    report_path = out.with_suffix(".json")
    atomic_write(report_path, lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2)))

    acc = ", ".join(f"{a:.1f}" for a in result.accuracy_per_depth)
    print(f"data: {report['data']}")
    print(f"accuracy at depth 0..{len(result.accuracy_per_depth) - 1}: {acc}")
    rule = f"--depth {args.depth}" if args.depth is not None else f"tolerance {args.tolerance}"
    print(f"cut at depth {result.depth} ({rule})")
    print(table(("", "before", "after", "change"), comparison_rows(report)))
    print(f"measured on {machine_line(report['machine'])}")
    print(f"wrote {result.path} and {report_path}")
    return 0
