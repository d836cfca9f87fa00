"""``acn probe MODEL [MODEL ...]``: accuracy at every depth, cutoff with a bootstrap
interval, incremental gain and block influence per layer; a table, CSV/JSON and one PNG that
overlays all the runs (accuracy vs depth). Language models show the validation loss and
perplexity at every depth and are cut by loss.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ..analysis.plots import plot_accuracy_vs_depth
from ..analysis.probe import ProbeResult, probe
from ..errors import DataError
from ..evaluation import evaluate_per_depth
from ..evaluation.cutoff import LM_TOLERANCE
from ..runs.evaldata import eval_data, with_noise
from ..runs.run import CHECKPOINT_DIR
from ..serialization import MODEL_FILE, load, resolve_model_path
from ..utils import atomic_write, json_safe
from .args import (
    MAX_BOOTSTRAP,
    add_eval_options,
    add_json,
    add_out,
    add_seed,
    check_out_dir,
    int_in,
    non_negative_float,
    pick_device,
    print_json,
    probability,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe",
        help="accuracy per depth, cutoff with an interval, block influence",
        description="Score every depth 0..L of trained models through their shared head (one "
        "forward pass per batch), find the cutoff depth (the smallest depth within --tolerance "
        "accuracy points of the full model) with a bootstrap 95% interval over test samples, "
        "and measure each block's influence (1 - cos). Writes a CSV and JSON per run and a PNG "
        "of accuracy vs depth overlaying all runs.",
    )
    p.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="run directories, model files (.safetensors) or pretrained directories",
    )
    p.add_argument(
        "--tolerance",
        type=non_negative_float,
        help="cutoff tolerance: accuracy points below the full model (default 0.5), or for "
        f"language models nats/token above the best depth (default {LM_TOLERANCE})",
    )
    p.add_argument(
        "--bootstrap",
        type=int_in(1, MAX_BOOTSTRAP),
        default=1000,
        help=f"bootstrap resamples, at most {MAX_BOOTSTRAP} (default 1000)",
    )
    add_seed(p, "the bootstrap and the noise")
    p.add_argument(
        "--noise-sigma",
        type=non_negative_float,
        default=0.0,
        help="std of Gaussian noise on the [0,1] pixels (default 0); with noise the clean "
        "accuracy and the drop (clean minus noisy) are reported too",
    )
    p.add_argument(
        "--salt-pepper",
        type=probability,
        default=0.0,
        help="fraction of salt-and-pepper pixels (default 0)",
    )
    add_out(p, "default: RUN/probe for one run, else ./probe")
    add_eval_options(p)
    add_json(p)
    p.set_defaults(func=run)


def run_name(path: Path) -> str:
    """A name for the model at ``path``: its directory's (run or pretrained directory), the
    file's stem, or for a file called ``model.safetensors`` its folder's (the run's, for a run's
    ``checkpoint/`` and ``checkpoint/model.safetensors``)."""
    p = path.absolute()
    if not p.is_dir() and p.name != MODEL_FILE:
        return p.stem
    folder = p if p.is_dir() else p.parent
    if folder.name == CHECKPOINT_DIR:  # RUN/checkpoint (a link to the latest step): the run
        folder = folder.parent
    return folder.resolve().name


def default_out(paths: list[Path], given: Path | None) -> Path:
    if given is not None:
        return given
    if len(paths) == 1:
        return (paths[0] if paths[0].is_dir() else paths[0].parent) / "probe"
    return Path("probe")


def unique_names(names: list[str]) -> list[str]:
    """Names made distinct by a -2, -3 ... suffix (output files are named after runs)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return out


def probe_one(path: Path, name: str, args: argparse.Namespace, device: torch.device) -> ProbeResult:
    model = load(path, device)
    if getattr(model.config, "head", None) == "mlm":
        raise DataError(f"{path} is a masked-LM model; probing needs a classification head")
    clean = eval_data(model, path, args.data)
    data = with_noise(clean, args.noise_sigma, args.salt_pepper)
    clean_accuracy = None
    if data is not clean:  # the drop from clean is the robustness quantity: score both
        clean_accuracy = evaluate_per_depth(model, clean.batches(args.batch_size), device).accuracy
    lm = data.kind == "lm"
    tolerance = args.tolerance if args.tolerance is not None else (LM_TOLERANCE if lm else 0.5)
    torch.manual_seed(args.seed)  # test-time noise draws from the global generator
    info = {
        "source": str(resolve_model_path(path)),
        "data": data.splits.describe(),
        "noise_sigma": args.noise_sigma,
        "salt_pepper": args.salt_pepper,
        "device": str(device),
        "torch": torch.__version__,
    }
    return probe(
        model,
        data.batches(args.batch_size),
        name=name,
        tolerance=tolerance,
        bootstrap=args.bootstrap,
        seed=args.seed,
        device=device,
        info=info,
        clean_accuracy=clean_accuracy,
        lm=lm,
    )


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def run(args: argparse.Namespace) -> int:
    paths = [Path(m).expanduser() for m in args.models]
    for path in paths:
        resolve_model_path(path)  # fail on a missing model before any work
    out = check_out_dir(default_out(paths, args.out))
    device = pick_device(args.device)
    names = unique_names([run_name(p) for p in paths])
    results = []
    for path, name in zip(paths, names):
        result = probe_one(path, name, args, device)
        if not args.json:
            print(result.table(), end="\n\n")
        write_text(out / f"{name}.csv", result.to_csv())
        write_text(out / f"{name}.json", result.to_json() + "\n")
        results.append(result)
    report = [json_safe(r.to_dict()) for r in results]
    write_text(out / "probe.json", json.dumps(report, indent=2, allow_nan=False) + "\n")
    plot_accuracy_vs_depth(results, out / "accuracy_vs_depth.png")
    if args.json:
        print_json(report)
    else:
        print(f"wrote {out}/: probe.json, accuracy_vs_depth.png, and a CSV and JSON per run")
    return 0
