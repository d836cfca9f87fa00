"""Does early exit's FLOP saving become wall-clock time? The real early-exit path vs model(x).

For each model (random weights, shared exit head at every depth) the entropy threshold is set to
the given quantile of the first exit's entropies, so a known share of samples leaves early. The
full forward and the early-exit path run on the same samples in ONE interleaved timing run (median
of repeats after warm-up) at batch 1 and at a large batch; printed side by side with the
expected-FLOPs speedup of the same decisions (Table 7's definition: full residual FLOPs / expected
FLOPs). The ratio wall x / FLOPs x says how much of the saving the real path keeps (per-exit head
evaluations and the row dropping cost time but few FLOPs).

    python benchmarks/early_exit_speed.py [--models mixer_cifar_paper,vit_tiny_cifar] [--quantile 0.5]
"""

from __future__ import annotations

import argparse

import torch

import acn
from acn.exits import ExitPolicy, ExitPricer, exit_logits, plan_exits, simulate_exits
from acn.exits.evaluate import measure_wall_clock
from acn.utils import machine_info, machine_line, table


def measure(name: str, args: argparse.Namespace) -> list[tuple]:
    torch.manual_seed(0)
    model = acn.create_model(name, args.connectivity).to(args.device).eval()
    x = model.example_input(args.batch, generator=torch.Generator().manual_seed(0)).to(args.device)
    exits = plan_exits(model, "shared")
    with torch.no_grad():
        logits = exit_logits(model, x, exits)
    policy = ExitPolicy("entropy", 0.0)
    policy = policy.with_tau(float(policy.score(logits[0]).quantile(args.quantile)))
    exit_at = simulate_exits(policy, logits).cpu()
    histogram = (torch.bincount(exit_at, minlength=len(exits)) / len(exit_at)).tolist()
    flops_x = ExitPricer(model).costs(exits).speedup(histogram)
    mean_depth = sum(f * e.depth for f, e in zip(histogram, exits))
    rows = []
    for batch, samples in ((1, x[: args.latency_samples]), (args.batch, x)):
        w = measure_wall_clock(model, samples, policy, exits, batch, args.warmup, args.repeats)
        rows.append(
            (
                name,
                f"{mean_depth:.1f}/{model.depth}",
                batch,
                f"{w.full_s * 1e3 / len(samples):.3f}",
                f"{w.exit_s * 1e3 / len(samples):.3f}",
                f"{flops_x:.2f}x",
                f"{w.speedup:.2f}x",
                f"{w.speedup / flops_x:.2f}",
            )
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="mixer_cifar_paper,vit_tiny_cifar,bert_tiny")
    p.add_argument("--connectivity", default="acn")
    p.add_argument("--quantile", type=float, default=0.5, help="share leaving at the first exit")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--latency-samples", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()

    rows = [row for name in args.models.split(",") for row in measure(name, args)]
    header = (
        "model", "mean exit depth", "batch", "full ms/sample", "exit ms/sample",
        "FLOPs x", "wall x", "wall/FLOPs",
    )  # fmt: skip
    print(f"{args.connectivity}, entropy threshold at the {args.quantile} quantile of exit 1")
    print(table(header, rows))
    print(f"measured on {machine_line(machine_info(args.device, torch.float32))}")


if __name__ == "__main__":
    main()
