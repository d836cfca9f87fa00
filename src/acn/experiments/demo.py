"""``acn demo``: a residual and an ACN twin of one small Mixer, trained on the embedded MNIST-5k,
and the ACN trained with ``--auto-cut``.

The twins are the same preset with the same parameters, data, seed and recipe; only the wiring
differs. The third arm is the ACN twin trained with ``acn train --auto-cut``: it holds out a
validation split carved from the training digits (``auto_cut.val_fraction`` of every class; never
the test set), scores every depth on it after each evaluation and drops the blocks it stopped
using while it trains, so it ends as the smaller model it deploys. The demo reports each arm's
accuracy at every depth (from the runs' final evaluations), its cutoff depth, what the cut model
costs and what training cost (counted FLOPs), and draws accuracy vs depth.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..compress import cost as model_cost
from ..errors import ConfigError
from ..runs.config import TrainConfig
from ..train.loop import train
from ..train.summary import CUTOFF_TOLERANCE
from ..utils import machine, write_json
from .figures import plot_curves
from .recipes import MNIST_MIXER, SMOKE, Sources, train_config

# arm -> (connectivity, changes to the demo recipe)
AUTO_CUT: dict[str, Any] = {"auto_cut": {"enabled": True}}  # acn train --auto-cut's defaults
ARMS: dict[str, tuple[str, dict[str, Any]]] = {
    "residual": ("residual", {}),
    "acn": ("acn", {}),
    "acn_autocut": ("acn", AUTO_CUT),
}
LABELS = {"residual": "residual", "acn": "acn", "acn_autocut": "acn+auto-cut"}

# The demo model and recipe: recipes.MNIST_MIXER (16 blocks of width 32 on 7x7 patches, 25
# epochs), chosen on a validation split of the training digits (`acn demo --validation 0.2`), never
# on the test set the demo prints; `acn reproduce demo` (catalog/demo.py) runs it on every seed.
DEMO_EPOCHS = MNIST_MIXER["epochs"]
# The demo's goal: a deployable ACN (the auto-cut arm's final model) at <= 60 % of the full
# model's FLOPs within 0.5 points of the full residual's accuracy (on >= 4 of 5 seeds:
# `acn reproduce demo`).
GOAL_FLOPS = 0.60
GOAL_POINTS = 0.5


@dataclass
class DemoResult:
    out_dir: Path
    accuracy: dict[str, list[float]]  # arm -> accuracy (%) at depth 0..L (L: its final depth)
    cutoff: dict[str, int]
    cost: dict[str, dict[str, Any]]  # arm -> params / flops of full and cut model
    train_flops: dict[str, int]  # arm -> counted training FLOPs (summary: total_train_flops)
    seed: int
    epochs: int
    wall_time_s: float
    data: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    plot: Path | None = None


def autocut_goal(r: DemoResult) -> tuple[float, float]:
    """(FLOPs of the auto-cut arm's final model / the full residual's, its accuracy minus the
    full residual's in points)."""
    fraction = r.cost["acn_autocut"]["flops"] / r.cost["residual"]["flops"]
    return fraction, r.accuracy["acn_autocut"][-1] - r.accuracy["residual"][-1]


def demo_config(
    arm: str,
    out_dir: Path,
    epochs: int,
    seed: int,
    quick: bool,
    validation: float = 0.0,
) -> TrainConfig:
    """The config of one arm: the demo recipe (``--quick``: the suite's smoke recipe)."""
    connectivity, arm_changes = ARMS[arm]
    changes: dict[str, Any] = {**arm_changes, "epochs": epochs, "out_dir": str(out_dir / arm)}
    if validation:
        changes["data"] = {"validation": validation}
    if epochs <= 1:
        changes["optim"] = {"warmup_epochs": 0}
    # the demo's data ships with the package: no data root, nothing generated
    sources = Sources(data_root=None, generated=out_dir)
    return train_config(SMOKE if quick else MNIST_MIXER, connectivity, seed, sources, changes)


def free_out_dir(out: Path, explicit: bool) -> Path:
    """``out`` if it is new or empty; with the default location, the first free ``out-N``."""
    if not out.exists() or not any(out.iterdir()):
        return out
    if explicit:
        raise ConfigError(f"output directory {out} is not empty; choose another --out")
    n = 2
    while (candidate := out.with_name(f"{out.name}-{n}")).exists():
        n += 1
    return candidate


def run_demo(
    out_dir: str | Path = "runs/demo",
    *,
    epochs: int | None = None,
    seed: int = 0,
    quick: bool = False,
    validation: float = 0.0,
    progress: bool | None = None,
    log=print,
) -> DemoResult:
    """Train the arms into ``out_dir/{residual,acn,acn_autocut}`` and compare them (see the
    module docstring)."""

    started = time.perf_counter()
    out = Path(out_dir)
    epochs = epochs if epochs is not None else (1 if quick else DEMO_EPOCHS)
    if epochs <= 0:
        raise ConfigError(f"--epochs must be positive, got {epochs}")
    accuracy, cutoff, cost, train_flops = {}, {}, {}, {}
    device = torch.device("cpu")
    for arm in ARMS:
        cfg = demo_config(arm, out, epochs, seed, quick, validation)
        log(f"[{LABELS[arm]}] training {epochs} epoch(s) ...")
        result = train(cfg, progress=progress, log=None)
        model, summary = result.model.cpu(), result.summary
        device = torch.device(summary["machine"]["device"])
        accuracy[arm] = summary["accuracy_per_depth"]
        cutoff[arm] = summary["cutoff_depth"]
        train_flops[arm] = summary["total_train_flops"]
        full, cut = model_cost(model), model_cost(model.truncate(cutoff[arm]))
        cost[arm] = {
            "params": full["params"],
            "flops": full["flops"],
            "cut_params": cut["params"],
            "cut_flops": cut["flops"],
        }
        log(
            f"[{LABELS[arm]}] accuracy {accuracy[arm][-1]:.2f}%, depth {model.depth}, "
            f"cutoff depth {cutoff[arm]}/{model.depth}"
        )
    result = DemoResult(
        out_dir=out,
        accuracy=accuracy,
        cutoff=cutoff,
        cost=cost,
        train_flops=train_flops,
        seed=seed,
        epochs=epochs,
        wall_time_s=0.0,
        data=summary["data"],
        machine=machine(device),
    )
    result.plot = plot_accuracy(result, out / "accuracy_vs_depth.png")
    result.wall_time_s = time.perf_counter() - started
    write_json(
        out / "demo.json", {**result.__dict__, "out_dir": str(out), "plot": str(result.plot)}
    )
    return result


def plot_accuracy(result: DemoResult, path: Path) -> Path:
    """Accuracy vs depth for every arm (the auto-cut one up to its final depth), cutoffs marked."""
    return plot_curves(
        {LABELS[arm]: [acc] for arm, acc in result.accuracy.items()},
        path,
        title=f"MNIST-5k, seed {result.seed}, {result.epochs} epochs "
        f"(star: cutoff, {CUTOFF_TOLERANCE} pt)",
        xlabel="depth k (blocks used, shared head)",
        ylabel="test accuracy (%)",
        marks={LABELS[arm]: float(k) for arm, k in result.cutoff.items()},
    )
