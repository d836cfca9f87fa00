"""``acn export RUN|MODEL_FILE|PRETRAINED_DIR --format onnx|pt2``: a deployable file of the
(cut) model, reloaded and checked against eager PyTorch on the run's test inputs."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from ..export import FORMATS, ExportResult, export_model
from ..export.exporter import check_depth, check_format
from ..export.inputs import cutoff, run_data, test_inputs
from ..serialization import load, resolve_model_path
from ..utils import mib


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a (cut) model to ONNX or torch.export and check it against PyTorch",
        description="Write the first K blocks of a model (all, --depth K, or the cutoff depth) "
        "as an ONNX file (dynamo exporter, run with ONNX Runtime) or a torch.export program "
        "(.pt2), with a dynamic batch axis (text: sequence axis too, and an attention_mask "
        "input). The file is reloaded and compared with eager PyTorch on the run's test "
        "inputs (or example inputs for a bare model file) before it is kept.",
    )
    p.add_argument("model", help="run directory, model file (.safetensors) or pretrained directory")
    p.add_argument("--format", required=True, help=f"{' or '.join(FORMATS)}")
    cut = p.add_mutually_exclusive_group()
    cut.add_argument("--depth", type=int, help="keep exactly this many blocks")
    cut.add_argument("--cutoff", action="store_true", help="keep the cutoff depth (test split)")
    p.add_argument("--tolerance", type=float, default=0.5, help="cutoff: accuracy points (0.5)")
    p.add_argument(
        "--all-depths",
        action="store_true",
        help="one graph whose output is the logits at "
        "every depth 0..K, [K+1, batch, ...], from one pass",
    )
    p.add_argument(
        "--out", help="output file (default: RUN/export/model.dK.EXT or beside the file)"
    )
    p.add_argument("--data", metavar="SPEC", help="test data (default: the run's config.yaml)")
    p.add_argument("--batch-size", type=int, default=64, help="test inputs compared (64)")
    p.add_argument("--atol", type=float, default=1e-4, help="max abs logit difference (1e-4)")
    p.set_defaults(func=run)


def default_out(source: Path, fmt: str, depth: int, all_depths: bool) -> Path:
    """RUN/export/model.d6.onnx for a directory, m.d6.onnx beside a model file m.safetensors."""
    tag = f"d{depth}" + ("-all" if all_depths else "")
    suffix = FORMATS[fmt].SUFFIX
    if source.is_dir():
        return source / "export" / f"model.{tag}{suffix}"
    return source.with_name(f"{source.stem}.{tag}{suffix}")


def describe(result: ExportResult, source: str) -> list[str]:
    """The lines the command prints."""
    p = result.parity
    what = f"logits at every depth 0..{result.depth}" if result.all_depths else "logits"
    return [
        f"exported {result.depth} of {result.full_depth} blocks ({what}) as {result.format}: "
        f"{result.path} ({mib(result.size_bytes)})",
        f"parity with eager PyTorch on {source}: max |logit diff| {p.max_abs_diff:.2e}, "
        f"top-1 agreement {100 * p.top1_agreement:.2f}%",
    ]


def run(args: argparse.Namespace) -> int:
    check_format(args.format)  # before any loading: unknown format, missing extra
    if args.atol < 0:
        raise ConfigError(f"--atol must be >= 0, got {args.atol}")
    source = Path(args.model).expanduser()
    model = load(source)
    data = run_data(model, source, args.data)
    depth = cutoff(model, data, args.tolerance) if args.cutoff else check_depth(model, args.depth)
    if args.out is not None:
        out = Path(args.out).expanduser()
        if out.exists() and out.resolve() == resolve_model_path(source).resolve():
            raise ConfigError(f"--out {out} is the model being exported; choose another path")
    else:
        out = default_out(source, args.format, depth, args.all_depths)
    if args.cutoff:
        print(f"cutoff depth {depth} of {model.depth} (within {args.tolerance:g} accuracy points)")
    inputs = test_inputs(model, data, args.batch_size)
    result = export_model(
        model,
        out,
        args.format,
        depth=depth,
        all_depths=args.all_depths,
        inputs=inputs,
        atol=args.atol,
    )
    source_text = (
        f"{len(inputs)} test inputs" if data is not None else f"{len(inputs)} example inputs"
    )
    print("\n".join(describe(result, source_text)))
    return 0
