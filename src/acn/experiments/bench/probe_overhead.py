"""Item ``probe_overhead_ratio``: reading all L+1 depths vs one forward, every family.

``model.logits_per_depth(x)`` runs the stack once and the pool / norm / head on every depth;
it is timed against one plain ``model(x)`` on the same batch, interleaved, under inference mode.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from .context import BenchContext, record
from .scale import CPU_MODELS
from .timing import interleave, median_ms, ratio

GOAL = 1.3


def probe_overhead_ratio(ctx: BenchContext) -> dict[str, Any]:
    rows = []
    presets = [*CPU_MODELS, *ctx.scale.paper]
    for preset in presets:
        model = ctx.model(preset, "acn").eval()
        size = ctx.scale.eval_batch if preset in CPU_MODELS else ctx.scale.paper[preset]
        x = model.example_input(size, generator=torch.Generator().manual_seed(ctx.seed))
        with torch.inference_mode():
            times = interleave(
                {"forward": partial(model, x), "per_depth": partial(model.logits_per_depth, x)},
                ctx.scale.warmup,
                ctx.scale.repeats if preset in CPU_MODELS else ctx.scale.paper_repeats,
            )
        r = ratio(times, "per_depth", "forward")
        rows.append(
            {
                "model": preset,
                "depth": model.depth,
                "batch": size,
                "forward_ms": round(median_ms(times["forward"]), 2),
                "per_depth_ms": round(median_ms(times["per_depth"]), 2),
                "ratio": round(r.median, 3),
                "ratio_p25_p75": [round(r.p25, 3), round(r.p75, 3)],
            }
        )
    worst = max(rows, key=lambda r: r["ratio"])
    return record(
        f"logits at all L+1 depths / one forward, worst {worst['ratio']:.3f} ({worst['model']})",
        rows,
        value=worst["ratio"],
        goal=f"<= {GOAL}",
        met=all(r["ratio"] <= GOAL for r in rows),
        notes=["ACN twins, random weights, inference mode; median of per-round ratios"],
    )
