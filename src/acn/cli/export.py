"""``acn export RUN|MODEL_FILE|PRETRAINED_DIR --format onnx|pt2``: a deployable file of the
(cut) model, reloaded and checked against eager PyTorch on the run's test inputs."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from ..evaluation.cutoff import LM_TOLERANCE
from ..export import FORMATS, ExportResult, export_model
from ..export.exporter import check_format, export_depth
from ..export.inputs import cutoff, run_data, test_inputs
from ..serialization import load
from ..utils import json_safe, mib, write_json
from .args import (
    MAX_DEPTH,
    add_data,
    add_json,
    add_out,
    check_out_dir,
    int_in,
    non_negative_float,
    positive_batch,
    print_json,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="a (cut) model as ONNX or torch.export, checked against PyTorch",
        description="Write the first K blocks of a model (all, --depth K, or the cutoff depth) "
        "as an ONNX file (dynamo exporter, run with ONNX Runtime) or a torch.export program "
        "(.pt2), with a dynamic batch axis (text: sequence axis too, and an attention_mask "
        "input), as OUT/model.dK.EXT with a JSON report beside it. The file is reloaded and "
        "compared with eager PyTorch on the test inputs of the data the model was trained on (a "
        "run directory, --data SPEC or --cutoff; example inputs of its input shape otherwise) "
        "before it is kept.",
    )
    p.add_argument("model", help="run directory, model file (.safetensors) or pretrained directory")
    p.add_argument("--format", required=True, choices=list(FORMATS), help="file format")
    cut = p.add_mutually_exclusive_group()
    cut.add_argument("--depth", type=int_in(0, MAX_DEPTH), help="keep exactly this many blocks")
    cut.add_argument(
        "--cutoff", action="store_true", help="keep the cutoff depth (scored on the test split)"
    )
    p.add_argument(
        "--tolerance",
        type=non_negative_float,
        help="with --cutoff: accuracy points the cut model may lose (default 0.5), or for "
        f"language models nats/token above the best depth (default {LM_TOLERANCE})",
    )
    p.add_argument(
        "--all-depths",
        action="store_true",
        help="one graph whose output is the logits at every depth 0..K, [K+1, batch, ...]",
    )
    p.add_argument(
        "--kv-cache",
        action="store_true",
        help="language models: export one decoding step with its key/value cache instead "
        "(input_ids, position, past keys and values -> logits, keys, values)",
    )
    add_out(p, "default: RUN/export, or MODEL-export beside a model file")
    add_data(p)
    p.add_argument(
        "--batch-size",
        type=positive_batch,
        default=64,
        help="batch size of the test inputs the file is checked on (default 64)",
    )
    p.add_argument(
        "--atol",
        type=non_negative_float,
        default=1e-4,
        help="largest absolute logit difference from eager PyTorch kept (default 1e-4)",
    )
    add_json(p)
    p.set_defaults(func=run)


def default_out(source: Path, given: Path | None) -> Path:
    """The output directory: RUN/export for a directory, MODEL-export beside a model file."""
    if given is not None:
        return given
    if source.is_dir():
        return check_out_dir(source / "export")
    return check_out_dir(source.with_name(f"{source.stem}-export"))


def file_name(fmt: str, depth: int, all_depths: bool, kv_cache: bool = False) -> str:
    """model.d6.onnx, model.d6-all.pt2, model.d6-kv.onnx ..."""
    kind = "-all" if all_depths else "-kv" if kv_cache else ""
    return f"model.d{depth}{kind}{FORMATS[fmt].SUFFIX}"


def describe(result: ExportResult, inputs: str) -> list[str]:
    """The lines the command prints."""
    p = result.parity
    what = f"logits at every depth 0..{result.depth}" if result.all_depths else "logits"
    if result.kv_cache:
        what = "a decoding step with its key/value cache"
    return [
        f"exported {result.depth} of {result.full_depth} blocks ({what}) as {result.format}: "
        f"{result.path} ({mib(result.size_bytes)})",
        f"parity with eager PyTorch on {inputs}: max |logit diff| {p.max_abs_diff:.2e}, "
        f"top-1 agreement {100 * p.top1_agreement:.2f}%",
    ]


def run(args: argparse.Namespace) -> int:
    check_format(args.format)  # before any loading: a missing extra
    source = Path(args.model).expanduser()
    out_dir = default_out(source, args.out)
    model = load(source)
    data = run_data(model, source, args.data, needed=args.cutoff)
    lm = data is not None and data.kind == "lm"
    tolerance = args.tolerance if args.tolerance is not None else LM_TOLERANCE if lm else 0.5
    depth = cutoff(model, data, tolerance) if args.cutoff else export_depth(model, args.depth)
    if args.cutoff and not args.json:
        unit = "nats/token of the best depth" if lm else "accuracy points"
        print(f"cutoff depth {depth} of {model.depth} (within {tolerance:g} {unit})")
    inputs = test_inputs(model, data, args.batch_size)
    result = export_model(
        model,
        out_dir / file_name(args.format, depth, args.all_depths, args.kv_cache),
        args.format,
        depth=depth,
        all_depths=args.all_depths,
        inputs=inputs,
        atol=args.atol,
        kv_cache=args.kv_cache,
    )
    kind = "test inputs" if data is not None else "example inputs"
    report = {
        "source": str(source),
        **{k: v for k, v in asdict(result).items() if k != "parity"},
        "path": str(result.path),
        "parity": result.parity.to_dict(),
        "inputs": kind,
    }
    write_json(result.path.with_name(result.path.name + ".json"), json_safe(report))
    if args.json:
        print_json(report)
    else:
        print("\n".join(describe(result, f"{len(inputs)} {kind}")))
    return 0
