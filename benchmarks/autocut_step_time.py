"""What does an auto-cut schedule save in training time, measured without machine drift?

The experiment's wall-time ratio compares runs trained minutes apart on a machine whose load
changes. This times ONE training step (forward, backward, fused AdamW) of a run's model at every
depth its auto-cut run passed through, round-robin in one process (median of repeats after
warm-up), and weighs each depth by the steps the run spent at it:

    ratio = sum_depth steps(depth) * t(depth) / (total steps * t(start depth))

(training steps only; evaluations and the monitor's validation passes are not in it).

    python benchmarks/autocut_step_time.py runs/reproduce/autocut/cpu/seed-0/mnist-acn_autocut ...
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

import acn
from acn.runs import Run
from acn.runs.inputs import load_train_data, model_values
from acn.train.losses import get_loss
from acn.train.optim import build_optimizer
from acn.utils import machine_info, table


def steps_per_depth(run_dir: Path) -> tuple[int, dict[int, int]]:
    """(start depth, {depth: optimizer steps taken at it}) from the run's metrics."""
    records = Run(run_dir).metrics()
    start = len(records[0]["accuracy_per_depth"]) - 1
    depth, last, steps = start, 0, {}
    for r in records:
        steps[depth] = steps.get(depth, 0) + r["step"] - last
        last = r["step"]
        depth = r.get("cut", {}).get("depth_after", depth)
    return start, steps


def step_fn(cfg, depth: int, batch: tuple[torch.Tensor, torch.Tensor]):
    """A closure taking one training step of cfg's model cut to ``depth``."""
    torch.manual_seed(0)
    info = load_train_data(cfg).info
    model = acn.create_model(cfg.model.name, cfg.model.connectivity, **model_values(cfg, info))
    model.cut_(depth)
    model.train()
    opt, loss_fn = build_optimizer(model, cfg.optim), get_loss(cfg.loss)

    def step() -> None:
        loss, _ = loss_fn(model, *batch, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="auto-cut run directories")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    rows = []
    for run in args.runs:
        cfg = Run(run).config
        data = load_train_data(cfg)
        x, y = data.splits.train.x[: cfg.batch_size], data.splits.train.y[: cfg.batch_size]
        gen = torch.Generator().manual_seed(0)
        batch = data.prepare(x, y, True, gen, data.info["num_classes"])
        start, steps = steps_per_depth(run)
        fns = {d: step_fn(cfg, d, batch) for d in sorted({start, *steps}, reverse=True)}
        times: dict[int, list[float]] = {d: [] for d in fns}
        for i in range(args.warmup + args.repeats):
            for d, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                if i >= args.warmup:
                    times[d].append(time.perf_counter() - t0)
        median = {d: statistics.median(t) for d, t in times.items()}
        total = sum(steps.values())
        ratio = sum(n * median[d] for d, n in steps.items()) / (total * median[start])
        per_depth = ", ".join(f"{d}: {median[d] * 1e3:.1f} ms" for d in fns)
        rows.append((str(run), per_depth, f"{ratio:.3f}"))
    print(table(["run", "step time per depth", "training-step time ratio"], rows))
    m = machine_info(torch.device("cpu"))
    print(f"{m['cpu']}, {m['torch_threads']} torch thread(s), torch {m['torch']}")


if __name__ == "__main__":
    main()
