"""Run the benchmark items, record the machine and its load, write benchmarks.json + BENCHMARKS.md."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from ...errors import ConfigError
from ...utils import atomic_write, machine_info, write_json
from .compile_speedup import compile_speedup
from .context import BenchContext, skipped
from .deploy import deploy_speedup_vs_flops
from .early_exit import early_exit_speedup
from .lm import generate, lm_train_step
from .mfu import mfu
from .peers import peer_speedup
from .probe_overhead import probe_overhead_ratio
from .report import render_markdown, replace_block, summary_block
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
    load = os.getloadavg()[0]
    start = time.perf_counter()
    try:
        item = ITEMS[name](ctx)
    except ImportError as e:  # an optional dependency the item needs
        item = skipped(f"needs {e.name or e}")
    wall = time.perf_counter() - start
    loads = [round(load, 2), round(os.getloadavg()[0], 2)]  # 1-minute load before, after
    item.update(scale=ctx.scale.name, wall_s=round(wall, 1), date=_now(), load=loads)
    ctx.log(f"{name}: {item['summary']} [{wall:.0f} s]")
    return item


def run_bench(
    scale: str = "full",
    only: list[str] | None = None,
    out: str | Path = "docs/results",
    run: str | Path | None = None,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the items (all, or ``only``), write ``out/benchmarks.json`` and ``out/BENCHMARKS.md``
    after each item (a crash keeps what was measured); with ``only``, items already in
    ``out/benchmarks.json`` are kept. Returns the JSON data."""
    names = select(only)
    out = Path(out)
    load_before = os.getloadavg()
    started = time.perf_counter()
    previous = _read(out / JSON_FILE).get("items", {}) if only else {}
    data: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="acn-bench-") as work:
        ctx = BenchContext(get_scale(scale), seed, Path(run) if run else None, Path(work), log)
        for name in names:
            previous[name] = run_item(name, ctx)
            data = {
                "date": _now(),
                "scale": scale,
                "seed": seed,
                "machine": machine_info("cpu", torch.float32),
                "load_before": [round(v, 2) for v in load_before],
                "load_after": [round(v, 2) for v in os.getloadavg()],
                "shared_machine": load_before[0] > SHARED_LOAD,
                "wall_s": round(time.perf_counter() - started, 1),
                "items": dict(previous),
            }
            write_results(data, out)
    return data


def write_results(data: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / JSON_FILE, data)
    text = render_markdown(data)
    atomic_write(out / MD_FILE, lambda tmp: Path(tmp).write_text(text))


def update_readme(data: dict[str, Any], readme: Path) -> bool:
    """Rewrite README's marker-delimited benchmark table from ``data``; False if no markers."""
    if not readme.is_file():
        return False
    text = replace_block(readme.read_text(), summary_block(data))
    if text is None:
        return False
    atomic_write(readme, lambda tmp: Path(tmp).write_text(text))
    return True


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
