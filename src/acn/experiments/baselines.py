"""Experiment ``baselines`` (paper App. E, Table 5): ACN against residual, DenseNet-style and
DenseFormer-style Mixers of the same size, trained on the same budget.

Each model reports its final accuracy, the share of its network the cutoff rule keeps (accuracy
within 0.5 points of the full model) and the epoch of its best evaluation. The DenseNet-style Mixer
gets the depth whose parameter count is closest to the residual Mixer's (the paper's 10 layers for
16), because its concatenation projections add parameters with depth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..models.registry import create_model
from ..runs.config import merge
from .context import RunContext
from .figures import plot_curves
from .outcomes import run_numbers
from .recipes import CIFAR_MIXER, MNIST_MIXER, SMOKE, train_config
from .suite import Claim, Experiment, Rule, Scale, register

MODELS = ("residual", "acn", "densenet", "denseformer")


def equal_params_depth(
    recipe: dict[str, Any], connectivity: str, reference: str = "residual"
) -> int:
    """Depth of ``connectivity`` whose parameter count is closest to the reference model's."""
    name, overrides = recipe["model"]["name"], dict(recipe["model"].get("overrides", {}))
    full = create_model(name, reference, **overrides)
    target, depth = full.num_params(), full.depth
    sizes = {}
    for d in range(1, depth + 1):
        overrides["depth"] = d
        sizes[d] = create_model(name, connectivity, **overrides).num_params()
    return min(sizes, key=lambda d: (abs(sizes[d] - target), -d))


def run_seed(ctx: RunContext, scale: Scale, seed: int) -> dict[str, Any]:
    recipe = scale.params["train"]
    models: dict[str, Any] = {}
    for conn in MODELS:
        changes = {}
        if conn == "densenet":
            changes = {"model": {"overrides": {"depth": equal_params_depth(recipe, conn)}}}
        run = ctx.train(conn, train_config(recipe, conn, seed, ctx.data_root, changes))
        if run is None:
            continue
        models[conn] = run_numbers(run, flops=False)
    if len(models) < len(MODELS):  # dry run
        return {}
    best_other = max(models[m]["accuracy"] for m in MODELS if m != "acn")
    return {
        "models": models,
        "acn_minus_best_other_pt": models["acn"]["accuracy"] - best_other,
    }


def summarize(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean accuracy, network used and best epoch per model (the columns of Table 5)."""
    rows = [s for s in per_seed if s]
    out: dict[str, Any] = {}
    for m in MODELS:
        for key in ("accuracy", "network_used_pct", "best_epoch", "params", "depth"):
            vals = [r["models"][m][key] for r in rows]
            out[f"{m}_{key}"] = sum(vals) / len(vals) if vals else None
    return out


def plot(per_seed: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Accuracy at every depth of the four models (star: mean cutoff)."""
    rows = [s["models"] for s in per_seed if s]
    if not rows:
        return []
    curves = {m: [r[m]["accuracy_per_depth"] for r in rows] for m in MODELS}
    marks = {m: sum(r[m]["cutoff_depth"] for r in rows) / len(rows) for m in MODELS}
    path = plot_curves(curves, Path(out_dir) / "accuracy_vs_depth.png", marks=marks,
                       title="Table 5 models: accuracy at every depth (star: mean cutoff)",
                       xlabel="depth k (blocks used)", ylabel="test accuracy (%)")  # fmt: skip
    return [path]


EXPERIMENT = register(
    Experiment(
        name="baselines",
        title="ACN vs residual, DenseNet- and DenseFormer-style Mixers (App. E, Table 5)",
        claim=Claim(
            text="The AC-Mixer is more accurate than residual, DenseNet- and DenseFormer-style "
            "Mixers of the same size and uses a smaller part of its network",
            paper="CIFAR-10, 700 epochs: AC 92.0 (75% of the network, best epoch 695) vs Res 90.3, "
            "DenseNet 90.3, DenseFormer 90.4 (all 100%)",
        ),
        rule=Rule(
            quantity="acn_minus_best_other_pt",
            direction="greater",
            threshold=0.0,
            describe="seed-paired ACN accuracy minus the best of the three other models "
            "(points); 95% t-interval over seeds",
        ),
        scales={
            "smoke": Scale(
                params={"train": SMOKE},
                changes="3-block width-16 Mixer, 200 MNIST digits, 1 epoch",
            ),
            "cpu": Scale(
                params={"train": MNIST_MIXER},
                changes="16-block width-32 Mixer (7x7 patches) on MNIST-5k instead of the 16 x 128 "
                "Mixer on CIFAR-10; 25 epochs for every model instead of 700; no CutMix",
            ),
            "paper": Scale(
                params={"train": merge(CIFAR_MIXER, {"epochs": 700})},
                changes="the paper's setting (700 epochs, all models); AutoAugment not applied",
                data_needed=["cifar10"],
            ),
        },
        run_seed=run_seed,
        summarize=summarize,
        plot=plot,
    )
)
