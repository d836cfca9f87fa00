"""Run one registered experiment over seeds and write ``OUT/NAME.json`` (+ plots in ``OUT/NAME/``).

Training runs go to ``RUNS/by-config/DIGEST`` (linked from ``RUNS/NAME/SCALE/seed-S/KEY``) through
:class:`RunContext`: experiments training the same config share the run, and an interrupted
``acn reproduce NAME`` continues where it stopped (finished runs are reused, the unfinished one
resumes from its checkpoint). ``dry_run`` builds every model, checks every data path and takes one
optimizer step per model (see :mod:`.context`), prints the plan and writes nothing.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, DataError
from ..train.distributed import resolve_device
from ..utils import json_safe, machine_info, si, table, write_json
from .context import PlanEntry, RunContext
from .suite import Experiment, aggregate, decide_claim, interval, summary_sentence

__all__ = [
    "RunContext", "RunOptions", "run_experiment", "redecide", "format_plan", "default_data_root",
]  # fmt: skip

# Assumed sustained training throughput for the plan's GPU-hour estimate: about 1 % of an H100's
# dense bf16 peak, because models this small at batch 64 are bound by kernel launches, not FLOPs.
ASSUMED_FLOPS_PER_S = 10e12
CACHE_DIR = "by-config"


def default_data_root() -> Path:
    """``$ACN_DATA`` if set, else ``../shared/data`` (relative to the working directory)."""
    return Path(os.environ.get("ACN_DATA", "../shared/data"))


@dataclass
class RunOptions:
    """How ``acn reproduce`` runs an experiment."""

    scale: str = "cpu"
    seeds: int = 3
    out: Path = Path("docs/results")  # NAME.json and NAME/*.png
    runs: Path = Path("runs/reproduce")  # training run directories
    data_root: Path | None = None  # default: default_data_root()
    device: str = "auto"
    dry_run: bool = False
    note: str = ""  # recorded in the JSON (e.g. "machine shared with 7 other jobs")


def run_experiment(
    exp: Experiment, opts: RunOptions, log: Callable[[str], None] | None = print
) -> dict[str, Any]:
    """Run ``exp`` on seeds 0..N-1; returns the result dict written to ``OUT/NAME.json``
    (under ``dry_run``: ``{"plan": [...]}`` and nothing is written)."""
    if opts.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {opts.seeds}")
    scale = exp.scale(opts.scale)
    data_root = Path(opts.data_root) if opts.data_root is not None else default_data_root()
    started, load_at_start = time.perf_counter(), _load_average()
    per_seed: list[dict[str, Any]] = []
    plan: list[PlanEntry] = []
    for seed in range(1 if opts.dry_run else opts.seeds):  # seeds share their models' shapes
        ctx = RunContext(
            out=Path(opts.runs) / exp.name / opts.scale / f"seed-{seed}",
            scale=opts.scale,
            seed=seed,
            device=opts.device,
            data_root=data_root,
            dry_run=opts.dry_run,
            cache=Path(opts.runs) / CACHE_DIR,
            log_fn=(lambda m, s=seed: log(f"{exp.name} seed {s}: {m}")) if log else None,
        )
        result = exp.run_seed(ctx, scale, seed)
        plan.extend(ctx.plan)
        if opts.dry_run:
            continue
        if not isinstance(result, dict) or (
            exp.rule.value is None and exp.rule.quantity not in result
        ):
            raise ConfigError(
                f"experiment {exp.name} seed {seed} did not return its quantity "
                f"{exp.rule.quantity!r}"
            )
        per_seed.append(json_safe({"seed": seed, **result}))
    if opts.dry_run:
        if log:
            log(format_plan(exp, opts, plan, data_root))
        return {"plan": [p.__dict__ | {"train_flops": p.train_flops} for p in plan]}
    summary_numbers = exp.summarize(per_seed) if exp.summarize else aggregate(per_seed)
    out = Path(opts.out)
    plots = exp.plot(per_seed, out / exp.name) if exp.plot else []
    device = resolve_device(opts.device)
    result = {
        "experiment": exp.name,
        "title": exp.title,
        "scale": opts.scale,
        "seeds": [r["seed"] for r in per_seed],
        "hardware": {
            **machine_info(device),
            # other jobs on the machine slow every number measured in seconds
            "load_average_1min": {"start": load_at_start, "end": _load_average()},
        },
        "torch": torch.__version__,
        "wall_time_s": round(time.perf_counter() - started, 1),
        "note": opts.note,
        **verdict_fields(exp, per_seed),
        "changes": scale.changes,
        "scale_params": scale.params,
        "summary_numbers": summary_numbers,
        "per_seed": per_seed,
        "plots": [Path(p).relative_to(out).as_posix() for p in plots],
    }
    write_json(out / f"{exp.name}.json", json_safe(result))
    if log:
        log(f"{exp.name}: {result['summary']} -> {out / (exp.name + '.json')}")
    return result


def verdict_fields(exp: Experiment, per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """The result's claim, rule, quantity interval, verdict and summary (from the numbers)."""
    finite = [v for v in exp.rule.values(per_seed) if v is not None and math.isfinite(v)]
    verdict = decide_claim(exp.rule, per_seed)
    return {
        "claim": {"text": exp.claim.text, "paper": exp.claim.paper},
        "rule": exp.rule.as_dict(),
        "quantity": interval(finite).as_dict() if finite else None,
        "verdict": verdict,
        "summary": summary_sentence(exp, per_seed, verdict),
    }


def redecide(
    exp: Experiment, out: Path, log: Callable[[str], None] | None = print
) -> dict[str, Any]:
    """Apply ``exp``'s current rule to the per-seed numbers in ``OUT/NAME.json`` (nothing is
    trained or evaluated) and rewrite it; the previous verdict and rule are kept under
    ``redecided`` so a changed verdict is never silent. A result without plots gets them drawn
    from the same numbers."""
    path = Path(out) / f"{exp.name}.json"
    try:
        result = json.loads(path.read_text())
        per_seed = result["per_seed"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: not a result `acn reproduce {exp.name}` wrote ({e})") from None
    fields = verdict_fields(exp, per_seed)
    changed = any(fields[k] != result.get(k) for k in ("claim", "rule", "verdict"))
    if changed:
        history = list(result.get("redecided", []))
        history.append({
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "previous_verdict": result.get("verdict"),
            "previous_rule": result.get("rule"),
            "previous_claim": result.get("claim"),
        })  # fmt: skip
        result = {**result, **fields, "redecided": history}
    drawn = exp.plot is not None and not result.get("plots")
    if drawn:  # missing plots are drawn from the same numbers
        paths = exp.plot(per_seed, Path(out) / exp.name)
        result["plots"] = [Path(p).relative_to(out).as_posix() for p in paths]
    if changed or drawn:
        write_json(path, json_safe(result))
    if log:
        log(f"{exp.name}: {result['summary']} -> {path}")
    return result


def _load_average() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def format_plan(exp: Experiment, opts: RunOptions, plan: list[PlanEntry], data_root: Path) -> str:
    """The dry run's table: one row per training run, totals for all seeds."""
    rows = [
        [
            p.key,
            f"{p.model} ({p.connectivity})",
            si(p.params),
            p.data + ("" if p.data_found else "  MISSING"),
            p.epochs,
            p.train_samples if p.train_samples is not None else "?",
            si(p.flops_per_sample),
            f"{p.train_flops:.3g}" if p.train_flops is not None else "?",
            f"{p.step_loss:.3f}",
        ]
        for p in plan
    ]
    header = ["run", "model", "params", "data", "epochs", "samples", "fwd FLOPs", "train FLOPs",
              "step loss"]  # fmt: skip
    known = [p.train_flops for p in plan if p.train_flops is not None]
    total = sum(known) * opts.seeds
    missing = sorted({p.data for p in plan if not p.data_found})
    lines = [
        f"{exp.name} at scale {opts.scale}: {len(plan)} run(s) per seed x {opts.seeds} seed(s); "
        f"one optimizer step per model ok",
        table(header, rows),
        f"estimated training compute: {total:.3g} FLOP for {opts.seeds} seed(s), about "
        f"{total / ASSUMED_FLOPS_PER_S / 3600:.3g} GPU-hours at an assumed "
        f"{si(ASSUMED_FLOPS_PER_S, 'FLOP/s')} sustained"
        + ("" if len(known) == len(plan) else " (runs with unknown data size not counted)")
        + "; runs shared with other experiments are trained once",
    ]
    if missing:
        lines.append(
            f"data not found (a synthetic batch of the model's input shape was used): "
            f"{', '.join(missing)}; put it under --data (now {data_root})"
        )
    return "\n".join(lines)
