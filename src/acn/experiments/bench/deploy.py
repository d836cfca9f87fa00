"""Item ``deploy_speedup_vs_flops``: a trained run's cut ACN vs the full residual model.

The ACN comes from ``--run DIR`` (its model file and ``summary.json`` cutoff) or from a short
training run of the demo's model made here. Its residual twin (same preset and sizes, random
weights: speed does not depend on them) runs at full depth. Latency at batch 1 and throughput at
the scale's large batch are timed interleaved (``acn.compress.cost.speeds``) and set against the
FLOPs ratio residual / cut ACN. Goal: measured speedup within 15 % of the FLOPs ratio.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from ...compress.cost import speeds
from ...compress.flops import flops_per_depth
from ...errors import ConfigError
from ...models.base import StackModel
from ...runs.run import Run
from ...train.loop import train
from ..demo import demo_config
from .context import BenchContext, record

GOAL = 0.15


def trained_acn(ctx: BenchContext) -> tuple[StackModel, int, str]:
    """(trained ACN model, its cutoff depth, where it came from)."""
    if ctx.run is not None:
        run = Run(ctx.run)  # a summary of the wrong shape, or no checkpoint: one line
        return run.model().eval(), int(run.summary["cutoff_depth"]), f"run {ctx.run}"
    if ctx.work_dir is None:
        raise ConfigError("deploy_speedup_vs_flops needs a scratch directory or --run")
    quick = ctx.scale.deploy_epochs == 0
    epochs = 1 if quick else ctx.scale.deploy_epochs
    cfg = demo_config("acn", Path(ctx.work_dir) / "deploy", epochs, ctx.seed, quick)
    result = train(cfg, progress=False, log=None)
    where = (
        f"{cfg.model.name} {dict(cfg.model.overrides)} trained here for {epochs} epochs on "
        f"{result.summary['data']}, seed {ctx.seed}"
    )
    return result.model.cpu().eval(), int(result.summary["cutoff_depth"]), where


def residual_twin(model: StackModel) -> StackModel:
    config = dataclasses.replace(model.config, connectivity="residual")
    torch.manual_seed(0)
    return type(model)(config).eval()


def deploy_speedup_vs_flops(ctx: BenchContext) -> dict[str, Any]:
    model, cutoff, where = trained_acn(ctx)
    full = residual_twin(model)
    L, s = model.depth, ctx.scale
    # the run's cutoff (the headline), and for context the same model cut at L/4, L/2, 3L/4
    depths = sorted({cutoff, *(k for k in (L // 4, L // 2, 3 * L // 4) if 0 < k < L)})
    models = {"residual": full, **{f"cut_{k}": model.truncate(k).eval() for k in depths}}
    flops = flops_per_depth(model, 1)
    full_flops = flops_per_depth(full, 1)[-1]
    measured = speeds(models, 1, s.throughput_batch, s.warmup + 1, s.repeats)
    res = measured["residual"]
    rows = []
    for k in depths:
        cut = measured[f"cut_{k}"]
        flops_ratio = full_flops / flops[k]
        for batch, speedup in (
            (1, res["latency_ms"] / cut["latency_ms"]),
            (s.throughput_batch, cut["throughput"] / res["throughput"]),
        ):
            rows.append(
                {
                    "cut_depth": k,
                    "run_cutoff": k == cutoff,
                    "batch": batch,
                    "residual_ms_per_sample": round(
                        res["latency_ms"] if batch == 1 else 1e3 / res["throughput"], 4
                    ),
                    "cut_ms_per_sample": round(
                        cut["latency_ms"] if batch == 1 else 1e3 / cut["throughput"], 4
                    ),
                    "flops_ratio": round(flops_ratio, 3),
                    "speedup": round(speedup, 3),
                    "rel_diff": round(speedup / flops_ratio - 1, 4),
                }
            )
    head = [r for r in rows if r["run_cutoff"]]
    worst = max(head, key=lambda r: abs(r["rel_diff"]))
    return record(
        f"cut ACN ({cutoff}/{L} blocks) vs full residual: FLOPs {head[0]['flops_ratio']:.2f}x, "
        f"measured {head[0]['speedup']:.2f}x (batch 1) / {head[1]['speedup']:.2f}x "
        f"(batch {s.throughput_batch})",
        rows,
        value=abs(worst["rel_diff"]),
        goal=f"speedup within {GOAL:.0%} of the FLOPs ratio",
        met=all(abs(r["rel_diff"]) <= GOAL for r in head),
        notes=[
            f"model: {where}; its cutoff is {cutoff} of {L} (the goal is judged there); rows for "
            "other cut depths of the same model are context",
            "residual twin: same preset and sizes at full depth; batch 1 = latency, large batch "
            "= throughput (acn.compress.cost.speeds, timed interleaved)",
        ],
    )
