"""Experiment ``pruning`` (paper App. G, Fig. 7): global magnitude pruning of an ACN and its
residual twin after training, accuracy against the share of block weights removed.

Both trained models go through :func:`acn.compress.sweep.prune_sweep` (one global threshold over
every Linear weight of the blocks, each pruned model saved, reloaded and scored at every depth).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ...compress.sweep import PruneCurve, PruneLevel, plot_curves, prune_sweep
from ...runs.evaldata import load_eval_data
from ..measures import RUN_NUMBERS, Measure, Trained
from ..recipes import CIFAR_MIXER, MNIST_MIXER, SMOKE
from ..study import Arm, Contrast, study
from ..suite import Claim, Rule, Scale, SeedResult, interval

SPARSITIES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
HIGH = 0.5  # the rule compares the levels at and above this sparsity ("higher compression")


def curve(t: Trained) -> dict[str, Any]:
    """The pruning curve of a finished run, scored on its own test split."""
    model = t.run.model("cpu").eval()
    data = load_eval_data(t.run.config)
    levels = tuple(t.params["sparsities"])
    return prune_sweep(model, lambda: data.batches(500), levels, label=t.key).to_dict()


def as_curve(d: dict[str, Any]) -> PruneCurve:
    # to_dict adds the derived deployed_accuracy beside the fields: rebuild from the fields
    fields = {f.name for f in dataclasses.fields(PruneLevel)}
    levels = [PruneLevel(**{k: v for k, v in lv.items() if k in fields}) for lv in d["levels"]]
    return PruneCurve(d["label"], d["connectivity"], d["cutoff_depth"], levels)


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


def gap(arms: dict[str, dict[str, Any]]) -> float:
    return high_sparsity_gap(as_curve(arms["acn"]["prune_curve"]),
                             as_curve(arms["residual"]["prune_curve"]))  # fmt: skip


def summarize(per_seed: list[SeedResult]) -> dict[str, Any]:
    """Full-depth accuracy per sparsity level for each model (95 % interval over seeds)."""
    out: dict[str, Any] = {}
    for c in ("residual", "acn"):
        levels = list(zip(*(r["arms"][c]["prune_curve"]["levels"] for r in per_seed)))
        for group in levels:
            target = round(group[0]["target"] * 100)
            out[f"{c}_acc_at_{target}pct"] = interval([g["accuracy"][-1] for g in group]).as_dict()
    return out


def plot(per_seed: list[SeedResult], out_dir: Path) -> list[Path]:
    """Seed 0's two curves (full depth and each model's cutoff depth)."""
    curves = [as_curve(per_seed[0]["arms"][c]["prune_curve"]) for c in ("residual", "acn")]
    return [plot_curves(curves, Path(out_dir) / "pruning.png")]


EXPERIMENT = study(
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
    arms=(Arm("residual", "residual"), Arm("acn", "acn")),
    measures=(*RUN_NUMBERS, Measure("prune_curve", curve)),
    contrasts=(Contrast("acn_minus_residual_high_sparsity_pt", gap),),
    summarize=summarize,
    plot=plot,
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
        ),
    },
)
