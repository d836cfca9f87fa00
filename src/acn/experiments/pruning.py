"""Experiment ``pruning`` (paper App. G, Fig. 7): global magnitude pruning of an ACN and its
residual twin after training, accuracy against the share of block weights removed.

Both trained models go through :func:`acn.compress.sweep.prune_sweep` (one global threshold over
every Linear weight of the blocks, each pruned model saved, reloaded and scored at every depth).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..compress.sweep import PruneCurve, PruneLevel, plot_curves, prune_sweep
from ..runs.evaldata import eval_data
from ..serialization import load
from .context import RunContext
from .outcomes import run_numbers
from .recipes import CIFAR_MIXER, MNIST_MIXER, SMOKE, train_config
from .suite import Claim, Experiment, Rule, Scale, register

SPARSITIES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
HIGH = 0.5  # the rule compares the levels at and above this sparsity ("higher compression")


def curve(run: Path, sparsities: tuple[float, ...], label: str) -> PruneCurve:
    """The pruning curve of a finished run, scored on its own test split."""
    model = load(run)
    data = eval_data(model, run)
    return prune_sweep(model, lambda: data.batches(500), sparsities, label=label)


def high_sparsity_gap(acn: PruneCurve, res: PruneCurve, threshold: float = HIGH) -> float:
    """Mean full-depth accuracy of ACN minus residual over the levels with target >= threshold."""
    pairs = [
        (a.accuracy[-1], r.accuracy[-1])
        for a, r in zip(acn.levels, res.levels)
        if a.target >= threshold - 1e-9
    ]
    if not pairs:
        return float("nan")
    return sum(a - r for a, r in pairs) / len(pairs)


def run_seed(ctx: RunContext, scale: Scale, seed: int) -> dict[str, Any]:
    recipe, levels = scale.params["train"], tuple(scale.params["sparsities"])
    runs = {
        c: ctx.train(c, train_config(recipe, c, seed, ctx.data_root)) for c in ("residual", "acn")
    }
    if any(r is None for r in runs.values()):
        return {}
    curves = {c: curve(r, levels, c) for c, r in runs.items()}
    return {
        "runs": {c: run_numbers(r, flops=False) for c, r in runs.items()},
        "curves": {c: cv.to_dict() for c, cv in curves.items()},
        "acn_minus_residual_high_sparsity_pt": high_sparsity_gap(curves["acn"], curves["residual"]),
    }


def summarize(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean full-depth accuracy per sparsity level for each model."""
    rows = [s for s in per_seed if s]
    out: dict[str, Any] = {}
    for c in ("residual", "acn"):
        levels = list(zip(*(r["curves"][c]["levels"] for r in rows)))
        for group in levels:
            target = round(group[0]["target"] * 100)
            out[f"{c}_acc_at_{target}pct"] = sum(g["accuracy"][-1] for g in group) / len(group)
    return out


def plot(per_seed: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Seed 0's two curves (full depth and each model's cutoff depth)."""
    rows = [s for s in per_seed if s]
    if not rows:
        return []
    curves = []
    for c in ("residual", "acn"):
        d = rows[0]["curves"][c]
        levels = [PruneLevel(**lv) for lv in d["levels"]]
        curves.append(PruneCurve(d["label"], d["connectivity"], d["cutoff_depth"], levels))
    return [plot_curves(curves, Path(out_dir) / "pruning.png")]


EXPERIMENT = register(
    Experiment(
        name="pruning",
        title="Magnitude pruning after training, ACN vs residual (App. G, Fig. 7)",
        claim=Claim(
            text="After global magnitude pruning ACNs keep more accuracy than residual networks, "
            "and the advantage grows with the pruning level",
            paper="AC-BERT vs Res-BERT on SST-2: better accuracy-size trade-off, wider gap at high "
            "compression (plot only, no numbers)",
        ),
        rule=Rule(
            quantity="acn_minus_residual_high_sparsity_pt",
            direction="greater",
            threshold=0.0,
            describe="seed-paired full-depth accuracy ACN minus residual, mean over pruning levels "
            "50-90% of the block weights (points); 95% t-interval over seeds",
        ),
        scales={
            "smoke": Scale(
                params={"train": SMOKE, "sparsities": [0.0, 0.5, 0.9]},
                changes="3-block width-16 Mixer, 200 MNIST digits, 1 epoch, 3 levels",
            ),
            "cpu": Scale(
                params={"train": MNIST_MIXER, "sparsities": list(SPARSITIES)},
                changes="16-block width-32 Mixer on MNIST-5k (25 epochs) instead of BERT-base "
                "fine-tuned on SST-2; magnitude pruning only (no movement pruning)",
            ),
            "paper": Scale(
                params={"train": CIFAR_MIXER, "sparsities": list(SPARSITIES)},
                changes="the paper's CIFAR-10 Mixer (100 epochs, Fig. 2) instead of BERT on SST-2 "
                "(the bert experiment covers AC-BERT); magnitude pruning only",
                data_needed=["cifar10"],
            ),
        },
        run_seed=run_seed,
        summarize=summarize,
        plot=plot,
    )
)
