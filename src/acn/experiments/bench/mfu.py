"""Item ``mfu``: achieved FLOP/s of a training step over a large fp32 matmul's FLOP/s, per family.

Step FLOPs = 3 x the forward FLOPs counted by ``acn.compress.flops`` (FlopCounterMode: matrix
products and attention; elementwise work counts zero), the usual "backward = 2 x forward" rule; the
FLOPs FlopCounterMode counts for forward + backward together are recorded next to it. The matmul
(n x n fp32, 2 n^3 FLOPs) runs in the same interleaved rounds as the steps, so each round's
utilisation compares two timings taken under the same machine load; the median over rounds is
reported. Each family also gets a profile of where its step's time goes (see ``breakdown.py``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.profiler import record_function

from ...compress.flops import flop_counter
from ...models.base import StackModel
from .breakdown import DATA_REGION, profile_step
from .context import BenchContext, record
from .scale import CPU_MODELS
from .steps import acn_step, batch
from .timing import Spread, interleave, median_ms

GOAL = 0.70
GOAL_MODEL = "mixer_cifar_paper"
MATMUL_N = 2048


def step_flops(model: StackModel, x: torch.Tensor, y: torch.Tensor) -> tuple[int, int]:
    """(3 x counted forward FLOPs, counted forward + backward FLOPs) of one step on (x, y)."""
    counter = flop_counter()
    with torch.no_grad(), counter:
        model(x)
    forward = counter.get_total_flops()
    counter = flop_counter()
    with counter:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return 3 * forward, counter.get_total_flops()


def data_fetch(x: torch.Tensor, y: torch.Tensor, seed: int):
    """Batch assembly as an in-memory dataset does it: gather random rows of a resident pool
    (4 batches) into the step's input buffers."""
    gen = torch.Generator().manual_seed(seed)
    pool = 4 * len(x)
    idx = torch.randint(len(x), (pool,), generator=gen)
    pool_x, pool_y = x[idx].clone(), y[idx].clone()

    def fetch() -> None:
        with record_function(DATA_REGION):
            rows = torch.randint(pool, (len(x),), generator=gen)
            x.copy_(pool_x[rows])
            y.copy_(pool_y[rows])

    return fetch


def mfu(ctx: BenchContext) -> dict[str, Any]:
    s = ctx.scale
    n = 256 if s.tiny else MATMUL_N
    a, b = torch.randn(n, n), torch.randn(n, n)
    rows, profiles = [], {}
    for preset in s.mfu_models:
        size = s.paper.get(preset, s.batch)
        model = ctx.model(preset, "acn")
        x, y = batch(model, size, ctx.seed)
        per_step, counted = step_flops(model, x, y)
        step = acn_step(model, x, y)
        repeats = s.repeats if preset in CPU_MODELS else s.paper_repeats
        times = interleave({"step": step, "matmul": lambda: a @ b}, s.warmup, repeats)
        peak = [2 * n**3 / t for t in times["matmul"]]
        achieved = [per_step / t for t in times["step"]]
        util = Spread.of([f / p for f, p in zip(achieved, peak)])
        fetch = data_fetch(x, y, ctx.seed)
        profiles[preset] = profile_step(lambda f=fetch, st=step: (f(), st()), s.profile_steps)
        rows.append(
            {
                "model": preset,
                "batch": size,
                "step_ms": round(median_ms(times["step"]), 2),
                "step_gflop": round(per_step / 1e9, 3),
                "counted_fwd_bwd_gflop": round(counted / 1e9, 3),
                "achieved_gflops": round(sorted(achieved)[len(achieved) // 2] / 1e9, 1),
                "matmul_gflops": round(sorted(peak)[len(peak) // 2] / 1e9, 1),
                "mfu": round(util.median, 3),
                "mfu_p25_p75": [round(util.p25, 3), round(util.p75, 3)],
            }
        )
        ctx.log(f"  mfu {preset}: {util.text()}")
    target = next((r for r in rows if r["model"] == GOAL_MODEL), None)
    return {
        **record(
            ", ".join(f"{r['model']} {r['mfu']:.0%}" for r in rows),
            rows,
            value=target["mfu"] if target else None,
            goal=f">= {GOAL:.0%} for {GOAL_MODEL}",
            met=None if target is None else target["mfu"] >= GOAL,
            notes=[
                f"ACN twins, acn train's step; matmul {n}x{n} fp32 timed in the same rounds",
                "step FLOPs = 3 x counted forward FLOPs (counted fwd+bwd shown alongside)",
            ],
        ),
        "profile": profiles,
    }
