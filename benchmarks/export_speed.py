"""ONNX Runtime vs eager PyTorch: the full residual model and the cut ACN, in one run.

Exports both models with ``acn export``'s code path (dynamo exporter, reloaded and checked
against eager), then times four forwards interleaved (round-robin, median of repeats after
warm-up): eager and ONNX Runtime for the full residual model and for the ACN cut at ``--depth``.
Prints latency at batch 1, throughput at batch 256 and the ratios. Speed does not depend on the
weights' values, so untrained models are timed; the default cut (6 of 8 blocks for ``mixer_s8``)
is the ACN cutoff that ``acn demo`` measures (README).

    python benchmarks/export_speed.py [--model mixer_s8] [--depth 6] [--repeats 15] [--threads 1]
        [--out runs/results]

Writes everything measured to ``OUT/export_speed.json``, a result of acn's one schema (kind
``benchmark``, with its provenance: command, git commit, versions, machine, load, wall time);
``acn report --readme`` renders the README's table from it
(:func:`acn.experiments.bench.export_speed.readme_table`). The committed file is written with
``--out docs/results``.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import onnx
import onnxruntime as ort
import onnxscript
import torch

import acn
from acn.compress.latency import time_interleaved
from acn.experiments.bench.export_speed import readme_table
from acn.experiments.results import Recorder, envelope, write_result
from acn.export import export_model
from acn.utils import machine_line, table

NAME = "export_speed"
TITLE = "ONNX Runtime vs eager PyTorch: full residual model and cut ACN"


def ort_fn(path: Path, x: torch.Tensor, threads: int):
    """A call of an ONNX Runtime CPU session on ``x`` (as numpy, converted once)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads  # the same threads as torch: a like-for-like comparison
    opts.inter_op_num_threads = 1
    # no spin-waiting between runs: idle ORT threads would otherwise steal the cores from the
    # eager forwards timed in between (interleaved timing)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x.numpy()}
    return lambda: sess.run(None, feed)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Export both models, time the four forwards interleaved; everything as one JSON dict."""
    threads = args.threads
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    full = acn.create_model(args.model, "residual").eval()
    cut = acn.create_model(args.model, "acn").eval().truncate(args.depth).eval()
    models = {f"residual, full ({full.depth} blocks)": full, f"ACN cut at {args.depth}": cut}
    gen = torch.Generator().manual_seed(args.seed)
    inputs = {b: full.example_input(b, generator=gen) for b in (1, args.batch)}

    parity = []
    fns: dict[int, dict[tuple[str, str], object]] = {b: {} for b in inputs}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, model) in enumerate(models.items()):
            path = Path(tmp) / f"model{i}.onnx"
            result = export_model(model, path, "onnx", inputs=inputs[args.batch][:64])
            parity.append({"model": name, "blocks": model.depth,
                           "max_abs_diff": result.parity.max_abs_diff,
                           "mib": result.size_bytes / 2**20})  # fmt: skip
            for b, x in inputs.items():
                fns[b][(name, "eager")] = lambda m=model, x=x: m(x)
                fns[b][(name, "onnxruntime")] = ort_fn(path, x, threads)
        median = {}
        for b, calls in fns.items():
            times = time_interleaved(calls, torch.device("cpu"), args.warmup, args.repeats)
            median[b] = {key: statistics.median(t) for key, t in times.items()}

    base_name = next(iter(models))
    base = median[1][(base_name, "eager")], median[args.batch][(base_name, "eager")]
    timing = [
        {
            "model": name,
            "runtime": runtime,
            "latency_ms": median[1][(name, runtime)] * 1e3,
            "latency_speedup": base[0] / median[1][(name, runtime)],
            "throughput": args.batch / median[args.batch][(name, runtime)],
            "throughput_speedup": base[1] / median[args.batch][(name, runtime)],
        }
        for name in models
        for runtime in ("eager", "onnxruntime")
    ]
    return {"parity": parity, "timing": timing}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="mixer_s8")
    p.add_argument("--depth", type=int, default=6, help="blocks the ACN keeps (default 6)")
    p.add_argument("--batch", type=int, default=256, help="throughput batch (default 256)")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and ONNX Runtime threads (default 1: on a "
        "shared machine, more threads than idle cores make both runtimes' numbers meaningless)",
    )
    p.add_argument("--out", default="runs/results", help="output directory (default runs/results)")
    args = p.parse_args()
    recorder = Recorder(shlex.join(["python", "benchmarks/export_speed.py", *sys.argv[1:]]))
    measured = measure(args)
    provenance = recorder.provenance(
        "cpu", torch.float32, onnxruntime=ort.__version__, onnx=onnx.__version__,
        onnxscript=onnxscript.__version__,
    )  # fmt: skip
    parameters = {k: getattr(args, k) for k in ("model", "depth", "batch", "repeats", "warmup",
                                                 "seed", "threads")}  # fmt: skip
    data = {**envelope("benchmark", NAME, TITLE, provenance), "parameters": parameters, **measured}
    path = write_result(Path(args.out) / f"{NAME}.json", data)

    print(f"{args.model}: parity of the exported files (64 inputs) and their size")
    rows = [(r["model"], r["blocks"], f"{r['max_abs_diff']:.1e}", f"{r['mib']:.2f}")
            for r in data["parity"]]  # fmt: skip
    print(table(("model", "blocks", "max |logit diff|", "MiB"), rows))
    print()
    print(readme_table(data))
    print(
        f"median of {args.repeats} interleaved repeats after {args.warmup} warm-up rounds, "
        f"seed {args.seed}, onnxruntime {ort.__version__}, onnx threads = torch threads"
    )
    load = provenance["load_average"]
    print(f"machine: {machine_line(provenance['machine'])}; load average {load}")
    print(f"wall time {provenance['wall_time_s']:.0f} s; wrote {path}")


if __name__ == "__main__":
    main()
