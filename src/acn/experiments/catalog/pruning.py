"""Experiment ``pruning`` (paper App. G, Fig. 7): an ACN and its residual twin pruned after training,
accuracy against the size of the model as deployed.

An ACN ships cut at its cutoff depth, so the paper's model-size axis is the non-zero parameters of
the model as deployed: the pruned model cut at the unpruned model's cutoff (embedding, kept
blocks, norms, head; :mod:`acn.compress.sweep`). Both trained models are pruned two ways, the
paper's two methods: global magnitude pruning after training (:func:`prune_sweep`, one threshold
over every Linear weight of the blocks) and movement pruning while fine-tuning
(:func:`movement_sweep`, the paper's setting I: 20 % more after each epoch), every pruned model
saved, reloaded and scored at every depth.

The claim is judged where it means something: over the pruning levels at which the residual keeps
at least 90 % of its unpruned accuracy (beyond them both models collapse). At each such level the
ACN's accuracy at the residual's deployed size (its own accuracy-size curve, linear between its
levels; its largest model where the budget exceeds it) minus the residual's accuracy, averaged
over those levels; the magnitude curves are the rule, the movement curves its second part.

(Until this rule the verdict was on the full-depth accuracy of the two models at equal relative
sparsity of their blocks over 50-90 %, where both collapse; that number stays a contrast.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...compress.movement import MovementSettings
from ...compress.sweep import PruneCurve, PruneLevel, movement_sweep, plot_curves, prune_sweep
from ...runs.evaldata import load_eval_data
from ..measures import RUN_NUMBERS, Measure, Trained
from ..recipes import CIFAR_MIXER, MNIST_MIXER, SMOKE
from ..study import Arm, Contrast, study
from ..suite import Claim, Rule, Scale, SeedResult, interval

SPARSITIES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MOVEMENT_LEVELS = (0.2, 0.4, 0.6, 0.8)  # the paper's setting I: 20 % more after each epoch
HIGH = 0.5  # the earlier rule compared the levels at and above this sparsity
KEEPS = 0.9  # the residual's share of its unpruned accuracy that bounds the judged range
EVAL_BATCH = 500


def curve(t: Trained) -> dict[str, Any]:
    """The magnitude-pruning curve of a finished run, scored on its own test split."""
    model = t.run.model("cpu").eval()
    data = load_eval_data(t.run.config)
    levels = tuple(t.params["sparsities"])
    return prune_sweep(model, lambda: data.batches(EVAL_BATCH), levels, label=t.key).to_dict()


def movement_curve(t: Trained) -> dict[str, Any]:
    """The movement-pruning curve of a finished run: a copy fine-tuned on its training split
    with the scale's settings (batch order and dropout from the seed), scored on its test split."""
    model = t.run.model("cpu").eval()
    data = load_eval_data(t.run.config)
    settings = MovementSettings(**t.params["movement"], seed=t.seed)
    levels = tuple(t.params["movement_levels"])
    batches = lambda: data.batches(EVAL_BATCH)  # noqa: E731
    return movement_sweep(model, data, batches, levels, settings, label=t.key).to_dict()


def as_curve(d: dict[str, Any]) -> PruneCurve:
    fields = set(PruneLevel.__dataclass_fields__)
    levels = [PruneLevel(**{k: v for k, v in lv.items() if k in fields}) for lv in d["levels"]]
    return PruneCurve(d["label"], d["connectivity"], d["cutoff_depth"], levels,
                      d.get("method", "magnitude"))  # fmt: skip


def deployed_points(c: PruneCurve) -> list[tuple[float, float]]:
    """(non-zero parameters, accuracy) of the model as deployed at every level."""
    return [(float(lv.deployed_nonzero_params), float(lv.deployed_accuracy))
            for lv in c.levels if lv.deployed_nonzero_params is not None]  # fmt: skip


def accuracy_at_size(points: Sequence[tuple[float, float]], size: float) -> float:
    """Accuracy of a curve's deployed models at ``size`` non-zero parameters: linear between the
    two levels around it, the largest model's accuracy above the largest size (that model fits
    the budget), nan below the smallest (the curve has no model that small)."""
    pts = sorted(points)
    if not pts or size < pts[0][0]:
        return float("nan")
    if size >= pts[-1][0]:
        return pts[-1][1]
    for (n0, a0), (n1, a1) in zip(pts, pts[1:]):
        if n0 <= size <= n1:
            return a0 if n1 == n0 else a0 + (a1 - a0) * (size - n0) / (n1 - n0)
    return float("nan")  # unreachable: size lies within the points


def retained_levels(res: PruneCurve, keeps: float = KEEPS) -> list[PruneLevel]:
    """The residual's levels whose deployed accuracy is at least ``keeps`` of its first level's
    (the unpruned model; for movement pruning the dense model after the first epoch)."""
    base = res.levels[0].deployed_accuracy if res.levels else None
    if base is None:
        return []
    return [lv for lv in res.levels
            if lv.deployed_accuracy is not None and lv.deployed_accuracy >= keeps * base]  # fmt: skip


def equal_size_gap(acn: PruneCurve, res: PruneCurve, keeps: float = KEEPS) -> float:
    """The rule's quantity: mean over the residual's retained levels of the ACN's accuracy at
    the residual's deployed size minus the residual's accuracy (points; nan if no level has an
    ACN model that small)."""
    points = deployed_points(acn)
    gaps = []
    for lv in retained_levels(res, keeps):
        at = accuracy_at_size(points, float(lv.deployed_nonzero_params))
        if math.isfinite(at):
            gaps.append(at - lv.deployed_accuracy)
    return sum(gaps) / len(gaps) if gaps else float("nan")


def high_sparsity_gap(acn: PruneCurve, res: PruneCurve, threshold: float = HIGH) -> float:
    """Mean full-depth accuracy of ACN minus residual over the levels with target >= threshold
    (the earlier rule's quantity)."""
    pairs = [
        (a.accuracy[-1], r.accuracy[-1])
        for a, r in zip(acn.levels, res.levels)
        if a.target >= threshold - 1e-9
    ]
    if not pairs:
        return float("nan")
    return sum(a - r for a, r in pairs) / len(pairs)


def _pair(arms: dict[str, dict[str, Any]], key: str) -> tuple[PruneCurve, PruneCurve]:
    return as_curve(arms["acn"][key]), as_curve(arms["residual"][key])


CONTRASTS = (
    Contrast("acn_minus_residual_at_equal_size_pt",
             lambda a: equal_size_gap(*_pair(a, "prune_curve"))),
    Contrast("acn_minus_residual_at_equal_size_movement_pt",
             lambda a: equal_size_gap(*_pair(a, "movement_curve"))),
    Contrast("residual_levels_judged",
             lambda a: len(retained_levels(as_curve(a["residual"]["prune_curve"])))),
    Contrast("residual_levels_judged_movement",
             lambda a: len(retained_levels(as_curve(a["residual"]["movement_curve"])))),
    # the earlier rule's quantity: equal relative block sparsity, full depth, 50-90 %
    Contrast("acn_minus_residual_high_sparsity_pt",
             lambda a: high_sparsity_gap(*_pair(a, "prune_curve"))),
)  # fmt: skip


def summarize(per_seed: list[SeedResult]) -> dict[str, Any]:
    """Deployed size and accuracy per level for each model and method (95 % interval over
    seeds)."""
    out: dict[str, Any] = {}
    for key, method in (("prune_curve", "magnitude"), ("movement_curve", "movement")):
        for c in ("residual", "acn"):
            levels = list(zip(*(r["arms"][c][key]["levels"] for r in per_seed)))
            for i, group in enumerate(levels):
                name = f"{method}_{c}_{i}_at_{round(group[0]['target'] * 100)}pct"
                out[name] = {
                    "deployed_accuracy": interval([g["deployed_accuracy"] for g in group]).as_dict(),
                    "deployed_nonzero_params": interval(
                        [g["deployed_nonzero_params"] for g in group]).as_dict(),
                }  # fmt: skip
    return out


def plot(per_seed: list[SeedResult], out_dir: Path) -> list[Path]:
    """Seed 0's curves: accuracy against deployed size (both methods) and against sparsity."""
    paths = []
    for key, stem in (("prune_curve", "magnitude"), ("movement_curve", "movement")):
        curves = [as_curve(per_seed[0]["arms"][c][key]) for c in ("residual", "acn")]
        paths.append(plot_curves(curves, Path(out_dir) / f"{stem}_deployed.png", "deployed"))
        paths.append(plot_curves(curves, Path(out_dir) / f"{stem}_sparsity.png"))
    return paths


MOVEMENT = {"lr": 1e-4, "batch_size": 32, "recovery_epochs": 1}  # MovementSettings' defaults

EXPERIMENT = study(
    name="pruning",
    title="Pruning after training, ACN vs residual, by deployed size (App. G, Fig. 7)",
    claim=Claim(
        text="Pruned and deployed (an ACN cut at its cutoff), ACNs are more accurate than "
        "residual networks of the same size, under magnitude and under movement pruning",
        paper="AC-BERT vs Res-BERT on SST-2, magnitude and movement pruning (settings I/II): "
        "better accuracy-size trade-off, wider gap at high compression (plot only, no numbers)",
    ),
    rule=Rule(
        quantity="acn_minus_residual_at_equal_size_pt",
        direction="greater",
        threshold=0.0,
        describe="magnitude pruning: seed-paired accuracy of the pruned cut ACN at the pruned "
        "residual's deployed non-zero parameters (linear between its levels) minus the "
        "residual's, mean over the levels where the residual keeps >= 90% of its unpruned "
        "accuracy (points); and (also) the same under movement pruning; 95% t-intervals over "
        "seeds",
        also=(
            Rule(
                quantity="acn_minus_residual_at_equal_size_movement_pt",
                direction="greater",
                threshold=0.0,
                describe="movement pruning (20% more after each fine-tuning epoch): the same "
                "equal-size accuracy difference (points)",
            ),
        ),
    ),
    arms=(Arm("residual", "residual"), Arm("acn", "acn")),
    measures=(
        *RUN_NUMBERS,
        Measure("prune_curve", curve),
        Measure("movement_curve", movement_curve),
    ),
    contrasts=CONTRASTS,
    summarize=summarize,
    plot=plot,
    scales={
        "smoke": Scale(
            params={
                "train": SMOKE,
                "sparsities": [0.0, 0.5, 0.9],
                "movement_levels": [0.5],
                "movement": MOVEMENT,
            },  # fmt: skip
            changes="3-block width-16 Mixer, 200 MNIST digits, 1 epoch, 3 magnitude levels, "
            "movement to 50% in one step",
        ),
        "cpu": Scale(
            params={
                "train": MNIST_MIXER,
                "sparsities": list(SPARSITIES),
                "movement_levels": list(MOVEMENT_LEVELS),
                "movement": MOVEMENT,
            },  # fmt: skip
            changes="16-block width-32 Mixer on MNIST-5k (25 epochs, the compression runs) "
            "instead of BERT-base fine-tuned on SST-2; movement pruning fine-tunes on the same "
            "4,000 training digits (lr 1e-4, batch 32, setting I: 20/40/60/80% plus one "
            "recovery epoch)",
        ),
        "paper": Scale(
            params={
                "train": CIFAR_MIXER,
                "sparsities": list(SPARSITIES),
                "movement_levels": list(MOVEMENT_LEVELS),
                "movement": MOVEMENT,
            },  # fmt: skip
            changes="the paper's CIFAR-10 Mixer (100 epochs, Fig. 2) instead of BERT on SST-2 "
            "(the bert experiment covers AC-BERT)",
        ),
    },
)
