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
from ..runs.config import TrainConfig, load_config
from ..train.loop import train
from ..train.summary import CUTOFF_TOLERANCE
from ..utils import machine, write_json

CONNECTIVITIES = ("residual", "acn")

# The demo model: mixer_s8 (the paper's Mixer layer with its per-layer tail, cls token) made
# CPU-sized: 7x7 patches (17 tokens) and width 48. Measured on 2 idle CPU cores (torch 2.13):
# about 2.5 s per epoch per model, so both 25-epoch runs plus evaluation take about 2.5 minutes.
# With 10-15 epochs the ACN's later layers still add accuracy; by 25 its curve has flattened.
DEMO_MODEL = {"patch_size": 7, "dim": 48, "token_hidden": 32, "channel_hidden": 192}
DEMO_EPOCHS = 25
DEMO_SETTINGS = [
    "--model.name=mixer_s8",
    "--data.spec=mnist5k",
    "--batch_size=64",
    "--optim.lr=2e-3",
    "--optim.warmup_epochs=1",
    "--optim.decay_params=matrices",  # ours (the README's demo numbers were measured with it)
    "--augment.crop_padding=2",
    "--augment.cutmix_prob=0",  # CutMix slows convergence too much for a 3-minute budget
    "--eval_every=1",
]
# --quick: a few seconds, for tests; same code path on a tiny model and a data subset
QUICK_MODEL = {"patch_size": 7, "dim": 16, "token_hidden": 8, "channel_hidden": 32, "depth": 3}
QUICK_SETTINGS = ["--data.per_class=20", "--eval_batch_size=1000"]


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
    connectivity: str, out_dir: Path, epochs: int, seed: int, quick: bool
) -> TrainConfig:
    model = QUICK_MODEL if quick else DEMO_MODEL
    overrides = [
        *DEMO_SETTINGS,
        *(QUICK_SETTINGS if quick else []),
        *(f"--model.overrides.{k}={v}" for k, v in model.items()),
        f"--model.connectivity={connectivity}",
        f"--epochs={epochs}",
        f"--seed={seed}",
        f"--out_dir={out_dir / connectivity}",
    ]
    if epochs <= 1:
        overrides.append("--optim.warmup_epochs=0")
    return load_config(None, overrides)


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
        cfg = demo_config(conn, out, epochs, seed, quick)
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
    """Accuracy vs depth for both models, cutoffs marked (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for conn, acc in result.accuracy.items():
        (line,) = ax.plot(range(len(acc)), acc, marker="o", label=f"{conn}")
        k = result.cutoff[conn]
        ax.plot([k], [acc[k]], marker="*", markersize=16, color=line.get_color(), linestyle="none")
    ax.set_xlabel("depth k (blocks used, shared head)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(
        f"MNIST-5k, seed {result.seed}, {result.epochs} epochs (star: cutoff, {CUTOFF_TOLERANCE} pt)"
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
