"""``acn compress MODEL (--tolerance T | --depth K)``: cut a trained model at its cutoff.

Writes a standalone truncated model file (``acn.load`` rebuilds it) and a JSON report into
``--out``, and prints before/after accuracy, params, FLOPs, size, latency and throughput side by side.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..compress.report import comparison_rows
from ..compress.truncate import compress
from ..errors import ConfigError
from ..runs.evaldata import eval_data
from ..serialization import MODEL_FILE, load, resolve_model_path
from ..utils import atomic_write, machine_line, table
from .args import (
    MAX_DEPTH,
    add_eval_options,
    add_json,
    add_out,
    add_timing_options,
    check_out_dir,
    int_in,
    non_negative_float,
    pick_device,
    print_json,
)

REPORT_FILE = "compress.json"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compress",
        help="cut a trained model at its cutoff, compare before and after",
        description="Score every depth of a trained model on its test split (one pass), keep "
        "the first K blocks (K = --depth, or the smallest depth within --tolerance accuracy "
        f"points of the full model), save them as OUT/{MODEL_FILE} (a standalone model file) "
        f"with OUT/{REPORT_FILE}, and report both models side by side.",
    )
    p.add_argument("model", help="run directory, model file (.safetensors) or pretrained directory")
    rule = p.add_mutually_exclusive_group()
    rule.add_argument(
        "--tolerance",
        type=non_negative_float,
        default=0.5,
        help="accuracy points the cut model may lose (default 0.5)",
    )
    rule.add_argument("--depth", type=int_in(0, MAX_DEPTH), help="keep exactly this many blocks")
    add_out(p, "default: RUN/compressed, or MODEL-compressed beside a model file")
    add_eval_options(p)
    add_timing_options(p, repeats=10, warmup=3)
    add_json(p)
    p.set_defaults(func=run)


def default_out(source: Path, given: Path | None) -> Path:
    """The output directory; the compressed model never goes over the model it is cut from."""
    src = resolve_model_path(source)
    if given is not None:
        out = given
    elif source.is_dir():
        out = source / "compressed"
    else:
        out = src.with_name(f"{src.stem}-compressed")
    out = check_out_dir(out)
    target = out / MODEL_FILE
    if target.exists() and target.resolve() == src.resolve():
        raise ConfigError(f"--out {out} holds the model being compressed; choose another directory")
    return out


def run(args: argparse.Namespace) -> int:
    source = Path(args.model).expanduser()
    out = default_out(source, args.out)
    device = pick_device(args.device)
    model = load(source, device)
    data = eval_data(model, source, args.data)
    timing = None
    if not args.no_time:
        timing = {
            "throughput_batch": args.timing_batch,
            "repeats": args.repeats,
            "warmup": args.warmup,
        }
    result = compress(
        model,
        lambda: data.test_batches(args.batch_size, device),
        out / MODEL_FILE,
        tolerance=None if args.depth is not None else args.tolerance,
        depth=args.depth,
        timing=timing,
        metadata={"compressed_from": str(resolve_model_path(source))},
    )
    report = {**result.report, "source": str(source), "data": data.splits.describe()}
    report_path = out / REPORT_FILE
    atomic_write(report_path, lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2)))

    if args.json:
        print_json(report)
        return 0
    acc = ", ".join(f"{a:.1f}" for a in result.accuracy_per_depth)
    print(f"data: {report['data']}")
    print(f"accuracy at depth 0..{len(result.accuracy_per_depth) - 1}: {acc}")
    rule = f"--depth {args.depth}" if args.depth is not None else f"tolerance {args.tolerance}"
    print(f"cut at depth {result.depth} ({rule})")
    print(table(("", "before", "after", "change"), comparison_rows(report)))
    print(f"measured on {machine_line(report['machine'])}")
    print(f"wrote {result.path} and {report_path}")
    return 0
