"""Run the benchmark items, record the machine and its load, write benchmarks.json + BENCHMARKS.md.

``benchmarks.json`` is a result of the one schema (:mod:`acn.experiments.results`, kind
``bench``). With ``--only``, items already in an existing file are kept, so that file is read and
checked before anything runs: one that is not a result acn wrote is a one-line error, and it is
never rewritten.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ...errors import ConfigError
from ...utils import atomic_write
from ..blocks import read_readme, replace_blocks
from ..results import Recorder, envelope, now, read_result, write_result
from .compile_speedup import compile_speedup
from .context import BenchContext, skipped
from .deploy import deploy_speedup_vs_flops
from .early_exit import early_exit_speedup
from .lm import generate, lm_train_step
from .mfu import mfu
from .peers import peer_speedup
from .probe_overhead import probe_overhead_ratio
from .report import BENCH_BLOCK, render_markdown, summary_body
from .scale import get_scale
from .train_step import peak_memory_ratio, train_step_ratio

ITEMS: dict[str, Callable[[BenchContext], dict[str, Any]]] = {
    "train_step_ratio": train_step_ratio,
    "peak_memory_ratio": peak_memory_ratio,
    "probe_overhead_ratio": probe_overhead_ratio,
    "deploy_speedup_vs_flops": deploy_speedup_vs_flops,
    "early_exit_speedup": early_exit_speedup,
    "mfu": mfu,
    "peer_speedup": peer_speedup,
    "compile_speedup": compile_speedup,
    "lm_train_step": lm_train_step,
    "generate": generate,
}
JSON_FILE, MD_FILE = "benchmarks.json", "BENCHMARKS.md"
SHARED_LOAD = 0.5  # 1-minute load average before the run above which the machine was not idle


def select(only: list[str] | None) -> list[str]:
    if not only:
        return list(ITEMS)
    unknown = [n for n in only if n not in ITEMS]
    if unknown:
        raise ConfigError(f"unknown bench item(s) {', '.join(unknown)}; valid: {', '.join(ITEMS)}")
    return list(dict.fromkeys(only))


def run_item(name: str, ctx: BenchContext) -> dict[str, Any]:
    ctx.log(f"{name} ...")
    load = _load()
    start = time.perf_counter()
    try:
        item = ITEMS[name](ctx)
    except ImportError as e:  # an optional dependency the item needs
        item = skipped(f"needs {e.name or e}")
    wall = time.perf_counter() - start
    after = _load()
    loads = [load, after] if load is not None and after is not None else []  # 1-min, before/after
    item.update(scale=ctx.scale.name, wall_s=round(wall, 1), date=now(), load=loads)
    ctx.log(f"{name}: {item['summary']} [{wall:.0f} s]")
    return item


def previous_items(out: Path) -> dict[str, Any]:
    """The items of an existing ``out/benchmarks.json`` (checked), or {} where there is none."""
    path = out / JSON_FILE
    if not path.exists():
        return {}
    data = read_result(path)
    if data["kind"] != "bench":
        raise ConfigError(
            f"{path} is a {data['kind']} result, not acn bench's; choose another --out"
        )
    return dict(data["items"])


def run_bench(
    scale: str = "full",
    only: list[str] | None = None,
    out: str | Path = "runs/results",
    run: str | Path | None = None,
    seed: int = 0,
    log: Callable[[str], None] = print,
    command: str | None = None,
) -> dict[str, Any]:
    """Run the items (all, or ``only``), write ``out/benchmarks.json`` and ``out/BENCHMARKS.md``
    after each item (a crash keeps what was measured); with ``only``, items already in
    ``out/benchmarks.json`` are kept. Returns the result."""
    names = select(only)
    out = Path(out)
    recorder = Recorder(command)
    previous = previous_items(out) if only else {}
    data: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="acn-bench-") as work:
        ctx = BenchContext(get_scale(scale), seed, Path(run) if run else None, Path(work), log)
        for name in names:
            previous[name] = run_item(name, ctx)
            load_start = recorder.load_start
            data = {
                **envelope(
                    "bench", "benchmarks", "acn bench", recorder.provenance("cpu", torch.float32)
                ),  # fmt: skip
                "scale": scale,
                "seed": seed,
                "shared_machine": load_start is not None and load_start[0] > SHARED_LOAD,
                "items": dict(previous),
            }
            write_results(data, out)
    return data


def write_results(data: dict[str, Any], out: Path) -> None:
    write_result(out / JSON_FILE, data)
    text = render_markdown(data)
    atomic_write(out / MD_FILE, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def update_readme(data: dict[str, Any], readme: Path) -> None:
    """Rewrite the README's ``bench-summary`` block from ``data`` (the CLI checks the README
    with :func:`acn.experiments.blocks.check_readme` before the run; it is read again here, so
    edits made meanwhile are kept)."""
    new = replace_blocks(read_readme(readme), {BENCH_BLOCK: summary_body(data)}, str(readme))
    atomic_write(readme, lambda tmp: Path(tmp).write_text(new, encoding="utf-8"))


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None
