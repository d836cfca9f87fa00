"""Item ``early_exit_speedup``: does early exit's FLOP saving become wall-clock time?

For each model (random weights, a shared exit head at every depth) the entropy threshold is the
median of the first exit's entropies, so about half the samples leave there. The real early-exit
path and the full forward run on the same samples, interleaved (median of repeats), at batch 1 and
at the scale's large batch, next to the expected-FLOPs speedup of the same decisions (Table 7's
definition: full FLOPs / expected FLOPs). wall / FLOPs says how much of the saving the real path
keeps (per-exit head evaluations and dropping rows cost time but few FLOPs).
"""

from __future__ import annotations

from typing import Any

import torch

from ...exits import ExitPolicy, ExitPricer, exit_logits, plan_exits, simulate_exits
from ...exits.evaluate import measure_wall_clock
from .context import BenchContext, record

QUANTILE = 0.5  # share of samples leaving at the first exit


def measure(ctx: BenchContext, preset: str) -> list[dict[str, Any]]:
    s = ctx.scale
    model = ctx.model(preset, "acn").eval()
    x = model.example_input(s.throughput_batch, generator=torch.Generator().manual_seed(ctx.seed))
    exits = plan_exits(model, "shared")
    with torch.no_grad():
        logits = exit_logits(model, x, exits)
    policy = ExitPolicy("entropy", 0.0)
    policy = policy.with_tau(float(policy.score(logits[0]).quantile(QUANTILE)))
    exit_at = simulate_exits(policy, logits).cpu()
    histogram = (torch.bincount(exit_at, minlength=len(exits)) / len(exit_at)).tolist()
    flops_x = ExitPricer(model).costs(exits).speedup(histogram)
    mean_depth = sum(f * e.depth for f, e in zip(histogram, exits))
    rows = []
    for size, samples in ((1, x[: s.latency_samples]), (s.throughput_batch, x)):
        w = measure_wall_clock(model, samples, policy, exits, size, s.warmup, s.repeats)
        rows.append(
            {
                "model": preset,
                "batch": size,
                "mean_exit_depth": round(mean_depth, 2),
                "depth": model.depth,
                "full_ms_per_sample": round(w.full_s * 1e3 / len(samples), 4),
                "exit_ms_per_sample": round(w.exit_s * 1e3 / len(samples), 4),
                "flops_speedup": round(flops_x, 3),
                "wall_speedup": round(w.speedup, 3),
                "wall_over_flops": round(w.speedup / flops_x, 3),
            }
        )
    return rows


def early_exit_speedup(ctx: BenchContext) -> dict[str, Any]:
    rows = [row for preset in ctx.scale.exit_models for row in measure(ctx, preset)]
    kept = min(r["wall_over_flops"] for r in rows)
    return record(
        f"early-exit wall-clock speedup keeps {kept:.2f}-"
        f"{max(r['wall_over_flops'] for r in rows):.2f} of the expected-FLOPs speedup",
        rows,
        value=kept,
        notes=[f"entropy threshold at the {QUANTILE} quantile of exit 1; shared exit head"],
    )
