"""What does reading every depth cost? logits_per_depth(x) vs one plain model(x).

Both are timed in ONE interleaved run (round-robin, median of repeats after warm-up); the ratio
is printed (target: <= 1.3x). logits_per_depth runs the stack once and the pool/norm/head on all
L+1 depths.

    python benchmarks/per_depth_overhead.py [--models mixer_cifar_paper,vit_tiny_cifar,...] [--batch 64]
"""

from __future__ import annotations

import argparse
import statistics

import torch

import acn
from acn.compress.latency import time_interleaved
from acn.utils import machine_info, machine_line, table


def measure(name: str, args: argparse.Namespace) -> tuple:
    """(name, L, forward ms, per-depth ms, ratio, spread) from one interleaved timing run."""
    torch.manual_seed(0)
    model = acn.create_model(name, args.connectivity).to(args.device).eval()
    x = model.example_input(args.batch, generator=torch.Generator().manual_seed(0))
    x = x.to(args.device)
    times = time_interleaved(
        {"forward": lambda: model(x), "per_depth": lambda: model.logits_per_depth(x)},
        torch.device(args.device),
        args.warmup,
        args.repeats,
    )
    fwd, per = (statistics.median(times[k]) for k in ("forward", "per_depth"))
    # spread of the per-round ratios: how much machine noise the median ratio carries
    q1, _, q3 = statistics.quantiles([p / f for p, f in zip(times["per_depth"], times["forward"])])
    spread = f"{q1:.2f}-{q3:.2f}"
    return name, model.depth, f"{fwd * 1e3:.2f}", f"{per * 1e3:.2f}", f"{per / fwd:.3f}x", spread


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="mixer_cifar_paper,mixer_s8,vit_tiny_cifar,bert_tiny,mlp_s8")
    p.add_argument("--connectivity", default="acn")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()

    rows = [measure(name, args) for name in args.models.split(",")]
    print(f"{args.connectivity}, batch {args.batch}, median of {args.repeats} interleaved repeats")
    print(
        table(
            ("model", "L", "model(x) ms", "logits_per_depth ms", "ratio", "round ratios p25-p75"),
            rows,
        )
    )
    print(f"machine: {machine_line(machine_info(args.device, torch.float32))}")


if __name__ == "__main__":
    main()
