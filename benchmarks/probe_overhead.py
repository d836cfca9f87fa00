"""What does probing add to a per-depth evaluation, and what does vectorising the bootstrap buy?

Two side-by-side measurements in one interleaved run each (median of repeats after warm-up):

1. ``evaluate_per_depth`` vs ``probe`` (the same pass plus block influence from its states, plus
   the bootstrap cutoff) on the same test batches; the ratio is probe / evaluate.
2. The bootstrap of the cutoff: one resampling-count matrix product per chunk
   (``resampled_accuracy``) vs a Python loop that indexes the resampled columns one resample at a
   time; the ratio is loop / vectorised. Both produce the cutoff of every resample.

    python benchmarks/probe_overhead.py [--model mixer_s8] [--samples 2000] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import statistics

import torch

import acn
from acn.analysis.probe import probe
from acn.compress.latency import time_interleaved
from acn.evaluation import evaluate_per_depth
from acn.evaluation.cutoff import cutoff_depths, resampled_accuracy
from acn.utils import machine_info, machine_line


def loop_bootstrap(correct: torch.Tensor, resamples: int, tolerance: float) -> torch.Tensor:
    """The baseline: one index_select and mean per resample."""
    gen = torch.Generator().manual_seed(0)
    n = correct.shape[1]
    hits = correct.double()
    out = []
    for _ in range(resamples):
        idx = torch.randint(n, (n,), generator=gen)
        out.append(hits.index_select(1, idx).mean(1) * 100)
    return cutoff_depths(torch.stack(out), tolerance)


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="mixer_s8")
    p.add_argument("--connectivity", default="acn")
    p.add_argument("--samples", type=int, default=2000, help="test samples")
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    device = torch.device(args.device)

    torch.manual_seed(0)
    model = acn.create_model(args.model, args.connectivity).to(device).eval()
    gen = torch.Generator().manual_seed(0)
    xs = model.example_input(args.samples, generator=gen).to(device)
    ys = torch.randint(0, model.config.num_classes, (args.samples,), generator=gen).to(device)
    batches = list(zip(xs.split(args.batch), ys.split(args.batch)))

    times = time_interleaved(
        {
            "evaluate": lambda: evaluate_per_depth(model, batches),
            "probe": lambda: probe(model, batches, bootstrap=args.bootstrap),
        },
        device,
        args.warmup,
        args.repeats,
    )
    ev_ms, probe_ms = median_ms(times["evaluate"]), median_ms(times["probe"])
    print(f"{args.model} ({args.connectivity}, depth {model.depth}), {args.samples} samples:")
    print(f"  evaluate_per_depth {ev_ms:9.1f} ms")
    print(f"  probe (+BI, +bootstrap {args.bootstrap}) {probe_ms:9.1f} ms")
    print(f"  ratio probe / evaluate: {probe_ms / ev_ms:.2f}x")

    correct = evaluate_per_depth(model, batches).correct
    times = time_interleaved(
        {
            "vectorised": lambda: cutoff_depths(resampled_accuracy(correct, args.bootstrap), 0.5),
            "loop": lambda: loop_bootstrap(correct, args.bootstrap, 0.5),
        },
        torch.device("cpu"),
        args.warmup,
        args.repeats,
    )
    vec_ms, loop_ms = median_ms(times["vectorised"]), median_ms(times["loop"])
    print(f"bootstrap of the cutoff, {args.bootstrap} resamples of {correct.shape[1]} samples:")
    print(f"  vectorised {vec_ms:9.1f} ms   loop {loop_ms:9.1f} ms")
    print(f"  ratio loop / vectorised: {loop_ms / vec_ms:.2f}x")
    print(f"measured on {machine_line(machine_info(device))}")


if __name__ == "__main__":
    main()
