"""Item ``deploy_speedup_vs_flops``: a trained run's cut ACN vs the full residual model.

The ACN comes from ``--run DIR`` (its model file and ``summary.json`` cutoff) or from a short
training run of the demo's model made here. Its residual twin (same preset and sizes, random
weights: speed does not depend on them) runs at full depth. Latency at batch 1 and throughput at
the scale's large batch are timed interleaved (``acn.compress.cost.speeds``) and set against the
FLOPs ratio residual / cut ACN. Goal: measured speedup within 15 % of the FLOPs ratio.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from ...compress.cost import speeds
from ...compress.flops import flops_per_depth
from ...errors import ConfigError
from ...models.base import StackModel
from ...serialization import load
from ...train.loop import train
from ..demo import demo_config
from .context import BenchContext, record

GOAL = 0.15


def trained_acn(ctx: BenchContext) -> tuple[StackModel, int, str]:
    """(trained ACN model, its cutoff depth, where it came from)."""
    if ctx.run is not None:
        summary_path = Path(ctx.run) / "summary.json"
        if not summary_path.is_file():
            raise ConfigError(f"--run {ctx.run}: no summary.json (is it a finished run directory?)")
        cutoff = json.loads(summary_path.read_text()).get("cutoff_depth")
        if cutoff is None:
            raise ConfigError(f"--run {ctx.run}: summary.json has no cutoff_depth")
        return load(ctx.run), int(cutoff), f"run {ctx.run}"
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
    cut = model.truncate(cutoff).eval()
    flops_ratio = flops_per_depth(full, 1)[-1] / flops_per_depth(model, 1)[cutoff]
    s = ctx.scale
    measured = speeds(
        {"residual": full, "cut_acn": cut}, 1, s.throughput_batch, s.warmup + 1, s.repeats
    )
    res, acn = measured["residual"], measured["cut_acn"]
    rows = []
    for label, speedup in (
        ("latency, batch 1", res["latency_ms"] / acn["latency_ms"]),
        (f"throughput, batch {s.throughput_batch}", acn["throughput"] / res["throughput"]),
    ):
        rel = speedup / flops_ratio - 1
        rows.append(
            {
                "measure": label,
                "flops_ratio": round(flops_ratio, 3),
                "speedup": round(speedup, 3),
                "rel_diff": round(rel, 4),
            }
        )
    worst = max(rows, key=lambda r: abs(r["rel_diff"]))
    return record(
        f"cut ACN ({cutoff}/{model.depth} blocks) vs full residual: FLOPs {flops_ratio:.2f}x, "
        f"measured {rows[0]['speedup']:.2f}x (batch 1) / {rows[1]['speedup']:.2f}x "
        f"(batch {s.throughput_batch})",
        rows,
        value=abs(worst["rel_diff"]),
        goal=f"|speedup / FLOPs ratio - 1| <= {GOAL}",
        met=all(abs(r["rel_diff"]) <= GOAL for r in rows),
        notes=[
            f"model: {where}; cutoff {cutoff} of {model.depth}",
            f"latency {res['latency_ms']:.3f} ms (residual) vs {acn['latency_ms']:.3f} ms (cut); "
            f"throughput {res['throughput']:.0f} vs {acn['throughput']:.0f} samples/s",
        ],
    )
