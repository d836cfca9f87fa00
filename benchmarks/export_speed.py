"""ONNX Runtime vs eager PyTorch: the full residual model and the cut ACN, in one run.

Exports both models with ``acn export``'s code path (dynamo exporter, reloaded and checked
against eager), then times four forwards interleaved (round-robin, median of repeats after
warm-up): eager and ONNX Runtime for the full residual model and for the ACN cut at ``--depth``.
Prints latency at batch 1, throughput at batch 256 and the ratios. Speed does not depend on the
weights' values, so untrained models are timed; the default cut (6 of 8 blocks for ``mixer_s8``)
is the ACN cutoff that ``acn demo`` measures (README).

    python benchmarks/export_speed.py [--model mixer_s8] [--depth 6] [--repeats 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import onnxruntime as ort
import torch

import acn
from acn.compress.latency import time_interleaved
from acn.export import export_model
from acn.utils import machine_info, machine_line, table


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
    args = p.parse_args()
    start = time.perf_counter()
    threads = args.threads
    torch.set_num_threads(threads)

    torch.manual_seed(args.seed)
    full = acn.create_model(args.model, "residual").eval()
    cut = acn.create_model(args.model, "acn").eval().truncate(args.depth).eval()
    models = {"residual, full": full, f"acn, cut at {args.depth}": cut}
    gen = torch.Generator().manual_seed(args.seed)
    inputs = {b: full.example_input(b, generator=gen) for b in (1, args.batch)}

    rows_parity = []
    fns: dict[int, dict[tuple[str, str], object]] = {b: {} for b in inputs}
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in models.items():
            path = Path(tmp) / f"{name.split(',')[0]}.onnx"
            result = export_model(model, path, "onnx", inputs=inputs[args.batch][:64])
            rows_parity.append(
                (
                    name,
                    model.depth,
                    f"{result.parity.max_abs_diff:.1e}",
                    f"{result.size_bytes / 2**20:.2f}",
                )
            )
            for b, x in inputs.items():
                fns[b][(name, "eager")] = lambda m=model, x=x: m(x)
                fns[b][(name, "onnxruntime")] = ort_fn(path, x, threads)
        median = {}
        for b, calls in fns.items():
            times = time_interleaved(calls, torch.device("cpu"), args.warmup, args.repeats)
            median[b] = {key: statistics.median(t) for key, t in times.items()}

    print(f"{args.model}: parity of the exported files (64 inputs) and their size")
    print(table(("model", "blocks", "max |logit diff|", "MiB"), rows_parity))
    print()
    rows = []
    base = median[1][("residual, full", "eager")], median[args.batch][("residual, full", "eager")]
    for name in models:
        for runtime in ("eager", "onnxruntime"):
            lat, thr = median[1][(name, runtime)], median[args.batch][(name, runtime)]
            rows.append(
                (
                    f"{name}, {runtime}",
                    f"{lat * 1e3:.3f}",
                    f"{base[0] / lat:.2f}x",
                    f"{args.batch / thr:,.0f}",
                    f"{base[1] / thr:.2f}x",
                )
            )
    print(
        table(
            (
                "model, runtime",
                "batch-1 ms",
                "vs eager residual",
                f"batch-{args.batch} samples/s",
                "vs eager residual",
            ),
            rows,
        )
    )
    for name in models:
        e, o = (name, "eager"), (name, "onnxruntime")
        print(
            f"onnxruntime / eager, {name}: latency {median[1][e] / median[1][o]:.2f}x faster, "
            f"throughput {median[args.batch][e] / median[args.batch][o]:.2f}x"
        )
    print(
        f"median of {args.repeats} interleaved repeats after {args.warmup} warm-up rounds, "
        f"seed {args.seed}, onnxruntime {ort.__version__}, onnx threads = torch threads"
    )
    print(f"machine: {machine_line(machine_info('cpu', torch.float32))}")
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
