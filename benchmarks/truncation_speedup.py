"""Does cutting a model at depth k buy the speedup its FLOPs promise?

For a preset, times the full model and model.truncate(k) at several k in ONE interleaved run
(round-robin, median of repeats after warm-up) and prints, per k, the FLOPs ratio full/k, the
measured speedup t_full/t_k and their relative difference (target: within 15 %).

    python benchmarks/truncation_speedup.py [--model mixer_cifar_paper] [--batch 64] [--depths 4,8,12]
"""

from __future__ import annotations

import argparse
import statistics

import torch

import acn
from acn.compress.flops import flops_per_depth
from acn.compress.latency import time_interleaved
from acn.utils import machine_info, machine_line, table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="mixer_cifar_paper")
    p.add_argument("--connectivity", default="acn")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--depths", default=None, help="comma list (default: L/4, L/2, 3L/4)")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()

    torch.manual_seed(0)
    model = acn.create_model(args.model, args.connectivity).to(args.device).eval()
    L = model.depth
    depths = (
        [int(d) for d in args.depths.split(",")] if args.depths else [L // 4, L // 2, 3 * L // 4]
    )
    x = model.example_input(args.batch, generator=torch.Generator().manual_seed(0)).to(args.device)
    flops = flops_per_depth(model, args.batch)
    models = {L: model, **{k: model.truncate(k).eval() for k in depths}}
    times = time_interleaved(
        {k: (lambda m=m: m(x)) for k, m in models.items()},
        torch.device(args.device),
        args.warmup,
        args.repeats,
    )
    median = {k: statistics.median(t) for k, t in times.items()}
    rows = []
    for k in depths:
        flop_ratio = flops[L] / flops[k]
        speedup = median[L] / median[k]
        rel = (speedup - flop_ratio) / flop_ratio
        # spread of the per-round speedups: how much machine noise the median carries
        q1, _, q3 = statistics.quantiles([f / t for f, t in zip(times[L], times[k])])
        rows.append(
            (
                k,
                f"{median[k] * 1e3:.2f}",
                f"{flop_ratio:.3f}",
                f"{speedup:.3f}",
                f"{rel:+.1%}",
                f"{q1:.2f}-{q3:.2f}",
            )
        )
    print(
        f"{args.model} ({args.connectivity}), L={L}, batch {args.batch}, full model "
        f"{median[L] * 1e3:.2f} ms (median of {args.repeats})"
    )
    print(
        table(
            ("depth k", "ms", "FLOPs ratio", "speedup", "rel. diff", "round speedups p25-p75"), rows
        )
    )
    print(f"machine: {machine_line(machine_info(args.device, torch.float32))}")


if __name__ == "__main__":
    main()
