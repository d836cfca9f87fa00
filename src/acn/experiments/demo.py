"""``acn demo``: a residual and an ACN twin of one small Mixer, trained on the embedded MNIST-5k.

Both models are the same preset with the same parameters, data, seed and recipe; only the wiring
differs. The demo reports the accuracy at every depth (from the runs' final evaluations), each
model's cutoff depth and what the cut model costs, and draws accuracy vs depth.
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

CONNECTIVITIES = ("residual", "acn")

# The demo model and recipe: recipes.MNIST_MIXER (16 blocks of width 32 on 7x7 patches, 25
# epochs), chosen on a validation split of the training digits (`acn demo --validation 0.2`), never
# on the test set the demo prints; `acn reproduce demo` (catalog/demo.py) runs it on every seed.
DEMO_EPOCHS = MNIST_MIXER["epochs"]


@dataclass
class DemoResult:
    out_dir: Path
    accuracy: dict[str, list[float]]  # connectivity -> accuracy (%) at depth 0..L
    cutoff: dict[str, int]
    cost: dict[str, dict[str, Any]]  # connectivity -> params / flops of full and cut model
    seed: int
    epochs: int
    wall_time_s: float
    data: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    plot: Path | None = None


def demo_config(
    connectivity: str,
    out_dir: Path,
    epochs: int,
    seed: int,
    quick: bool,
    validation: float = 0.0,
) -> TrainConfig:
    """The config of one twin: the demo recipe (``--quick``: the suite's smoke recipe)."""
    changes: dict[str, Any] = {"epochs": epochs, "out_dir": str(out_dir / connectivity)}
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
    """Train both twins into ``out_dir/{residual,acn}`` and compare them (see module docstring)."""

    started = time.perf_counter()
    out = Path(out_dir)
    epochs = epochs if epochs is not None else (1 if quick else DEMO_EPOCHS)
    if epochs <= 0:
        raise ConfigError(f"--epochs must be positive, got {epochs}")
    accuracy, cutoff, cost = {}, {}, {}
    device = torch.device("cpu")
    for conn in CONNECTIVITIES:
        cfg = demo_config(conn, out, epochs, seed, quick, validation)
        log(f"[{conn}] training {epochs} epoch(s) ...")
        result = train(cfg, progress=progress, log=None)
        model, summary = result.model.cpu(), result.summary
        device = torch.device(summary["machine"]["device"])
        accuracy[conn] = summary["accuracy_per_depth"]
        cutoff[conn] = summary["cutoff_depth"]
        full, cut = model_cost(model), model_cost(model.truncate(cutoff[conn]))
        cost[conn] = {
            "params": full["params"],
            "flops": full["flops"],
            "cut_params": cut["params"],
            "cut_flops": cut["flops"],
        }
        log(
            f"[{conn}] accuracy {accuracy[conn][-1]:.2f}%, cutoff depth {cutoff[conn]}/{model.depth}"
        )
    result = DemoResult(
        out_dir=out,
        accuracy=accuracy,
        cutoff=cutoff,
        cost=cost,
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
    """Accuracy vs depth for both models, cutoffs marked."""
    return plot_curves(
        {conn: [acc] for conn, acc in result.accuracy.items()},
        path,
        title=f"MNIST-5k, seed {result.seed}, {result.epochs} epochs "
        f"(star: cutoff, {CUTOFF_TOLERANCE} pt)",
        xlabel="depth k (blocks used, shared head)",
        ylabel="test accuracy (%)",
        marks={conn: float(k) for conn, k in result.cutoff.items()},
    )
