"""Item ``compile_speedup``: what ``torch.compile`` buys a training step, per family.

Two copies of the same ACN model (same weights, same batch) take ``acn train``'s step, one eager
and one with ``model.compile()`` (the whole forward; backward through AOTAutograd; the optimizer
stays eager as in ``acn train --compile``). The first compiled steps (compilation) are not timed
but their wall time is reported. Speedup = eager step time / compiled step time.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from .context import BenchContext, record, skipped
from .steps import acn_step, batch
from .timing import interleave, median_ms, ratio


def compile_speedup(ctx: BenchContext) -> dict[str, Any]:
    s = ctx.scale
    if not s.compile_models:
        return skipped(f"not run at the {s.name} scale (compiling takes minutes on a CPU)")
    rows = []
    for preset in s.compile_models:
        eager = ctx.model(preset, "acn")
        compiled = copy.deepcopy(eager)
        compiled.compile()
        x, y = batch(eager, s.batch, ctx.seed)
        steps = {"eager": acn_step(eager, x, y), "compiled": acn_step(compiled, x, y)}
        start = time.perf_counter()
        steps["compiled"]()
        steps["compiled"]()
        compile_s = time.perf_counter() - start
        times = interleave(steps, s.warmup, s.repeats)
        r = ratio(times, "eager", "compiled")
        rows.append(
            {
                "model": preset,
                "batch": s.batch,
                "eager_ms": round(median_ms(times["eager"]), 2),
                "compiled_ms": round(median_ms(times["compiled"]), 2),
                "speedup": round(r.median, 3),
                "speedup_p25_p75": [round(r.p25, 3), round(r.p75, 3)],
                "compile_s": round(compile_s, 1),
            }
        )
        ctx.log(f"  compile_speedup {preset}: {r.text()} (compiling {compile_s:.0f} s)")
    best = max(rows, key=lambda r: r["speedup"])
    return record(
        ", ".join(f"{r['model']} {r['speedup']:.2f}x" for r in rows),
        rows,
        value=best["speedup"],
        notes=["eager / compiled step time of acn train's step; compile time not included"],
    )
