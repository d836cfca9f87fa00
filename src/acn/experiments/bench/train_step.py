"""Items ``train_step_ratio`` and ``peak_memory_ratio``: ACN vs residual twin, every family.

The twins are the same preset (same parameter count) differing only in wiring; each takes
``acn train``'s step (:func:`~.steps.acn_step`) on the same fixed random batch. CPU-sized presets
run at the scale's batch, the paper's sizes (ViT-B/16 at 224 px, BERT-base at seq 128, the paper
Mixer) at a small batch for a few steps.
"""

from __future__ import annotations

from typing import Any

from .context import BenchContext, record
from .scale import CPU_MODELS
from .steps import acn_step, batch, saved_activation_bytes, state_bytes
from .timing import interleave, median_ms, ratio

TIME_GOAL, MEMORY_GOAL = 1.03, 1.05
MIB = 2**20


def sizes(ctx: BenchContext) -> list[tuple[str, str, int]]:
    """(preset, "cpu" | "paper", batch) of every model the items measure."""
    out = [(name, "cpu", ctx.scale.batch) for name in CPU_MODELS]
    return out + [(name, "paper", b) for name, b in ctx.scale.paper.items()]


def twins(ctx: BenchContext, preset: str, size: int) -> dict[str, tuple]:
    """connectivity -> (model, x, y) on one shared batch."""
    out = {}
    for conn in ("residual", "acn"):
        model = ctx.model(preset, conn)
        out[conn] = (model, *batch(model, size, ctx.seed))
    return out


def train_step_ratio(ctx: BenchContext) -> dict[str, Any]:
    rows = []
    for preset, kind, size in sizes(ctx):
        pair = twins(ctx, preset, size)
        steps = {conn: acn_step(*pair[conn]) for conn in pair}
        repeats = ctx.scale.repeats if kind == "cpu" else ctx.scale.paper_repeats
        warmup = ctx.scale.warmup if kind == "cpu" else min(ctx.scale.warmup, 1)
        times = interleave(steps, warmup, repeats)
        r = ratio(times, "acn", "residual")
        rows.append(
            {
                "model": preset,
                "size": kind,
                "batch": size,
                "params": pair["acn"][0].num_params(),
                "residual_ms": round(median_ms(times["residual"]), 2),
                "acn_ms": round(median_ms(times["acn"]), 2),
                "ratio": round(r.median, 3),
                "ratio_p25_p75": [round(r.p25, 3), round(r.p75, 3)],
                "repeats": repeats,
            }
        )
        ctx.log(f"  train_step_ratio {preset} b{size}: {r.text()}")
    worst = max(rows, key=lambda r: r["ratio"])
    return record(
        f"ACN / residual step time, worst {worst['ratio']:.3f} ({worst['model']})",
        rows,
        value=worst["ratio"],
        goal=f"<= {TIME_GOAL}",
        met=all(r["ratio"] <= TIME_GOAL for r in rows),
        notes=[
            "step = acn train's recipe (fused AdamW, label smoothing, grad norm + clip) on a fixed "
            "random batch; ratio = median of per-round ratios (p25-p75 in brackets)"
        ],
    )


def peak_memory_ratio(ctx: BenchContext) -> dict[str, Any]:
    rows = []
    for preset, kind, size in sizes(ctx):
        pair = twins(ctx, preset, size)
        act = {conn: saved_activation_bytes(*pair[conn]) for conn in pair}
        total = {conn: act[conn] + state_bytes(pair[conn][0]) for conn in pair}
        rows.append(
            {
                "model": preset,
                "size": kind,
                "batch": size,
                "residual_activations_mib": round(act["residual"] / MIB, 2),
                "acn_activations_mib": round(act["acn"] / MIB, 2),
                "activations_ratio": round(act["acn"] / act["residual"], 4),
                "residual_peak_mib": round(total["residual"] / MIB, 2),
                "acn_peak_mib": round(total["acn"] / MIB, 2),
                "ratio": round(total["acn"] / total["residual"], 4),
            }
        )
    worst = max(rows, key=lambda r: r["activations_ratio"])
    return record(
        f"ACN / residual training-step memory, worst activations ratio "
        f"{worst['activations_ratio']:.3f} ({worst['model']})",
        rows,
        value=worst["activations_ratio"],
        goal=f"<= {MEMORY_GOAL}",
        met=all(r["activations_ratio"] <= MEMORY_GOAL for r in rows),
        notes=[
            "activations: distinct storages autograd saves for backward in one forward + loss "
            "(saved_tensors_hooks; deterministic). peak = activations + weights + grads + AdamW's "
            "two moments. The headline is the stricter activations ratio."
        ],
    )
