"""Run one experiment over seeds and write ``OUT/NAME.json`` (+ plots in ``OUT/NAME/``).

Training runs go to ``RUNS/by-config/DIGEST`` (linked from ``RUNS/NAME/SCALE/seed-S/KEY``) through
:class:`RunContext`: experiments training the same config share the run, and an interrupted
``acn reproduce NAME`` continues where it stopped (finished runs are reused, the unfinished one
resumes from its checkpoint). ``dry_run`` builds every model, checks every data path and takes one
optimizer step per model (see :mod:`.context`), prints the plan and writes nothing.

The runner owns what every experiment shares: the data it needs is checked before anything
starts, every seed's result is checked for the one shape (``{"seed", "arms", "contrasts",
"runs"}``), every number gets its 95 % interval over seeds, the verdict is the rule's, and the
result (the one schema of :mod:`.results`, with its provenance) is written before the plots are
drawn, so a failed figure never loses a finished experiment.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..train.distributed import resolve_device
from ..utils import si, table
from .context import CACHE_DIR, PlanEntry, RunContext
from .history import carried, previous
from .recipes import Sources, datasets_in, default_data_root, needs_message, plain
from .results import Recorder, envelope, read_result, write_result
from .suite import Experiment, SeedResult, decide_claim, interval, intervals, summary_sentence

__all__ = ["RunOptions", "run_experiment", "redecide", "format_plan", "verdict_fields"]

# Assumed sustained training throughput for the plan's GPU-hour estimate: about 1 % of an H100's
# dense bf16 peak, because models this small at batch 64 are bound by kernel launches, not FLOPs.
ASSUMED_FLOPS_PER_S = 10e12
GENERATED_DIR = "_generated"  # RUNS/by-config/_generated: data the package writes
PLOT_ERRORS = (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError)


@dataclass
class RunOptions:
    """How ``acn reproduce`` runs an experiment."""

    scale: str = "cpu"
    seeds: int = 3  # how many seeds: first_seed, first_seed + 1, ...
    first_seed: int = 0  # a changed rule is judged on seeds never run before (e.g. 3, 4, 5)
    out: Path = Path("runs/results")  # NAME.json and NAME/*.png
    runs: Path = Path("runs/reproduce")  # training run directories
    data_root: Path | None = None  # default: $ACN_DATA
    device: str = "auto"
    dry_run: bool = False
    note: str = ""  # recorded in the JSON (e.g. "machine shared with 7 other jobs")
    command: str | None = None  # the command line, recorded in the provenance


def sources(opts: RunOptions) -> Sources:
    root = opts.data_root if opts.data_root is not None else default_data_root()
    generated = Path(opts.runs).expanduser().resolve() / CACHE_DIR / GENERATED_DIR
    return Sources(Path(root).expanduser().resolve() if root is not None else None, generated)


def check_data(exp: Experiment, opts: RunOptions, where: Sources) -> None:
    """One line before anything runs: the datasets this scale needs and where to point acn."""
    needed = datasets_in(exp.scale(opts.scale).params)
    what = f"acn reproduce {exp.name} --scale {opts.scale}"
    if not needed or opts.dry_run:
        return
    if where.data_root is None:
        raise DataError(needs_message(needed, what))
    missing = [d for d in needed if not all((where.data_root / p).exists() for p in d.paths)]
    if missing:
        names = ", ".join(f"{d.path} ({d.what or d.kind})" for d in missing)
        raise DataError(f"{what}: not found under the data root {where.data_root}: {names}")


def run_experiment(
    exp: Experiment, opts: RunOptions, log: Callable[[str], None] | None = print
) -> dict[str, Any]:
    """Run ``exp`` on seeds S..S+N-1 (S = ``first_seed``); returns the result written to
    ``OUT/NAME.json`` (under ``dry_run``: ``{"plan": [...]}`` and nothing is written). A result
    already there is carried into the new one's ``history`` (:mod:`.history`)."""
    if opts.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {opts.seeds}")
    if opts.first_seed < 0:
        raise ConfigError(f"--first-seed must be >= 0, got {opts.first_seed}")
    scale = exp.scale(opts.scale)
    device = resolve_device(opts.device)  # a bad --device stops here, before any run or link
    where = sources(opts)
    check_data(exp, opts, where)
    path = Path(opts.out) / f"{exp.name}.json"
    earlier = None if opts.dry_run else previous(path, exp.name)  # checked before any training
    if opts.dry_run and where.data_root is None:  # plan anyway: absent data is marked MISSING
        where = Sources(Path("$ACN_DATA"), where.generated)
    recorder = Recorder(opts.command)
    per_seed: list[SeedResult] = []
    plan: list[PlanEntry] = []
    first = opts.first_seed
    for seed in range(first, first + (1 if opts.dry_run else opts.seeds)):  # one shape per seed
        ctx = RunContext(
            out=Path(opts.runs) / exp.name / opts.scale / f"seed-{seed}",
            scale=opts.scale,
            sources=where,
            seed=seed,
            device=opts.device,
            dry_run=opts.dry_run,
            cache=Path(opts.runs) / CACHE_DIR,
            log_fn=(lambda m, s=seed: log(f"{exp.name} seed {s}: {m}")) if log else None,
        )
        result = exp.run_seed(ctx, scale, seed)
        plan.extend(ctx.plan)
        if not opts.dry_run:
            per_seed.append(seed_result(exp, seed, result, ctx.digests))
    if opts.dry_run:
        if log:
            log(format_plan(exp, opts, plan, where.data_root))
        return {"plan": [p.__dict__ | {"train_flops": p.train_flops} for p in plan]}
    numbers = intervals(per_seed)
    if exp.summarize is not None:
        numbers.update(exp.summarize(per_seed))
    result = {
        **envelope("experiment", exp.name, exp.title, recorder.provenance(device)),
        "scale": opts.scale,
        "seeds": [r["seed"] for r in per_seed],
        "note": opts.note,
        **verdict_fields(exp, per_seed),
        "changes": scale.changes,
        "scale_params": plain(scale.params),
        "summary_numbers": numbers,
        "per_seed": per_seed,
        "plots": [],
    }
    result["history"] = carried(earlier, result)
    out = Path(opts.out)
    write_result(path, result)  # written before any figure is drawn
    if exp.plot is not None:
        result["plots"] = draw(exp, per_seed, out)
        write_result(path, result)
    if log:
        log(f"{exp.name}: {result['summary']} -> {path}")
    return result


def seed_result(exp: Experiment, seed: int, result: Any, digests: dict[str, str]) -> SeedResult:
    """One seed's result in the one shape, or a ConfigError naming what the experiment missed."""
    if (
        not isinstance(result, dict)
        or not isinstance(result.get("arms"), dict)
        or not isinstance(result.get("contrasts"), dict)
    ):
        raise ConfigError(f"experiment {exp.name} seed {seed} did not return arms and contrasts")
    row = {"seed": seed, "arms": result["arms"], "contrasts": result["contrasts"],
           "runs": dict(digests)}  # fmt: skip
    for part in (exp.rule, *exp.rule.also):
        if part.value is None and part.quantity not in row["contrasts"]:
            raise ConfigError(
                f"experiment {exp.name} seed {seed} did not return its quantity {part.quantity!r}"
            )
    return row


def draw(exp: Experiment, per_seed: list[SeedResult], out: Path) -> list[str]:
    """The experiment's figures under ``OUT/NAME/``, as paths relative to ``out``; numbers a
    figure cannot be drawn from are a one-line DataError."""
    assert exp.plot is not None
    try:
        paths = exp.plot(per_seed, out / exp.name)
    except DataError as e:
        raise DataError(f"cannot draw the figures of {exp.name}: {e}") from None
    except PLOT_ERRORS as e:
        raise DataError(
            f"cannot draw the figures of {exp.name} from these per-seed numbers "
            f"({type(e).__name__}: {e})"
        ) from None
    return [Path(p).relative_to(out).as_posix() for p in paths]


def verdict_fields(exp: Experiment, per_seed: list[SeedResult]) -> dict[str, Any]:
    """The result's claim, rule, quantity interval, verdict and summary (from the numbers)."""
    finite = [v for v in exp.rule.values(per_seed) if v is not None and math.isfinite(v)]
    verdict = decide_claim(exp.rule, per_seed)
    stats = interval(finite) if finite else None
    if stats is not None and not math.isfinite(stats.mean):  # values near the float limit
        stats = None
    return {
        "claim": exp.claim.as_dict(),
        "rule": exp.rule.as_dict(),
        "quantity": stats.as_dict() if stats is not None else None,
        "verdict": verdict,
        "summary": summary_sentence(exp, per_seed, verdict),
    }


def redecide(
    exp: Experiment, out: Path, log: Callable[[str], None] | None = print
) -> dict[str, Any]:
    """Apply ``exp``'s current rule to the per-seed numbers in ``OUT/NAME.json`` (nothing is
    trained or evaluated) and rewrite it; the previous verdict and rule are kept under
    ``redecided`` so a changed verdict is never silent. A result without plots gets them drawn
    from the same numbers. A file that fails a check is left as it is."""
    path = Path(out) / f"{exp.name}.json"
    try:
        result = read_result(path)
        if result["kind"] != "experiment" or result["name"] != exp.name:
            raise DataError(f"{path}: a {result['kind']} result named {result['name']!r}")
    except DataError as e:
        reason = str(e).removeprefix(f"{path}: ")
        raise DataError(
            f"{path}: not a result `acn reproduce {exp.name}` wrote ({reason})"
        ) from None
    per_seed = result["per_seed"]
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
    if drawn:  # missing plots are drawn from the same numbers, before anything is written
        result["plots"] = draw(exp, per_seed, Path(out))
    if changed or drawn:
        write_result(path, result)
    if log:
        log(f"{exp.name}: {result['summary']} -> {path}")
    return result


def format_plan(
    exp: Experiment, opts: RunOptions, plan: list[PlanEntry], data_root: Path | None
) -> str:
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
            f"{', '.join(missing)}; point --data-root (or $ACN_DATA) at it (now {data_root})"
        )
    return "\n".join(lines)
