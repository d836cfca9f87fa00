"""Every connectivity mode vs residual on the demo Mixer: training-step time, activation memory,
parameters and FLOPs, side by side in one process.

    python benchmarks/connectivity_step_time.py [--repeats 30] [--batch 64] [--threads N]
        [--json PATH]

The model is configs/mnist_mixer_acn.yaml's (mixer_s8 with 16 blocks of width 32 on 7x7 patches),
each mode with its default options, every step ``acn train``'s recipe (acn.experiments.bench.steps)
on one fixed random batch. Time: median of the per-round ratios mode / residual, the modes run
round-robin (order reversed every other round), so machine load hits all alike; the 25th-75th
percentile range says how much noise the median carries. Memory: the distinct storages autograd
saves for backward (deterministic). Prints a table; --json also writes the numbers with the
machine, versions and git commit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import torch
import yaml

import acn
from acn.compress.cost import cost
from acn.connectivity import MODES
from acn.errors import ConfigError
from acn.experiments.bench.steps import acn_step, batch, saved_activation_bytes
from acn.experiments.bench.timing import interleave, median_ms, ratio
from acn.utils import machine_info

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "mnist_mixer_acn.yaml"


def demo_model(mode: str) -> acn.StackModel:
    model = yaml.safe_load(CONFIG.read_text())["model"]
    torch.manual_seed(0)
    return acn.create_model(model["name"], mode, **model["overrides"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    models = {}
    for mode in MODES:
        try:
            models[mode] = demo_model(mode)
        except ConfigError as e:  # a mode the Mixer does not define
            print(f"{mode}: {e}")
    steps = {mode: acn_step(m, *batch(m, args.batch)) for mode, m in models.items()}
    start = time.perf_counter()
    times = interleave(steps, args.warmup, args.repeats)
    wall = time.perf_counter() - start
    base = models["residual"]
    base_act = saved_activation_bytes(base, *batch(base, args.batch))
    base_cost = cost(base)
    rows = []
    for mode, model in models.items():
        r = ratio(times, mode, "residual")
        c = cost(model)
        rows.append(
            {
                "mode": mode,
                "step_ms": round(median_ms(times[mode]), 2),
                "step_ratio": round(r.median, 3),
                "step_ratio_p25_p75": [round(r.p25, 3), round(r.p75, 3)],
                "activations_ratio": round(
                    saved_activation_bytes(model, *batch(model, args.batch)) / base_act, 3
                ),
                "params": c["params"],
                "wiring_params": c["wiring_params"],
                "flops_ratio": round(c["flops"] / base_cost["flops"], 4),
            }
        )
    print(
        f"{'mode':<15} {'step ms':>8} {'/ residual (p25-p75)':>22} {'act.':>6} "
        f"{'params':>8} {'wiring':>7} {'FLOPs':>7}"
    )
    for r in rows:
        lo, hi = r["step_ratio_p25_p75"]
        print(
            f"{r['mode']:<15} {r['step_ms']:>8.2f} {r['step_ratio']:>8.3f} ({lo:.3f}-{hi:.3f})"
            f"{'':>5} {r['activations_ratio']:>6.3f} {r['params']:>8,} {r['wiring_params']:>7,} "
            f"{r['flops_ratio']:>7.4f}"
        )
    if args.json:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        out = {
            "model": "configs/mnist_mixer_acn.yaml",
            "batch": args.batch,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "wall_s": round(wall, 1),
            "git_commit": commit,
            "machine": machine_info(torch.device("cpu"), torch.float32),
            "rows": rows,
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
