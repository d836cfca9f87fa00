"""Experiment 3, ``difficulty`` (paper section 5.4, Fig. 4): cutoff depth vs task difficulty,
measured as the number of classes (the first 2, 5 and 10 classes, as the authors' code keeps).

The paper trains the ACN longer (420 vs 300 epochs, "to reach the performance of its residual
counterpart"); so does this experiment, with the same ratio 1.4. The claim has two parts, and the
verdict tests both: the ACN's cutoff grows with the task (seed-paired cutoff with the most classes
- with the fewest, in blocks), and the residual network does not adapt its depth so: it stays at
its full depth, or at least its cutoff grows less than the ACN's (seed-paired ACN growth - residual
growth). (Until this rule, the verdict was on the ACN's growth alone.)

``difficulty`` runs on MNIST-5k digit classes; ``difficulty-cifar`` on CIFAR-10 classes with the
CPU-sized CIFAR-10 Mixer (``recipes.CIFAR_SMALL``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...runs.config import merge
from ..figures import plot_curves
from ..measures import ACCURACY, ACCURACY_PER_DEPTH, CUTOFF, DEPTH, EPOCHS, Measure
from ..recipes import CIFAR_MIXER, CIFAR_SMALL, MNIST_MIXER, SMOKE, scale_epochs
from ..study import Arm, Contrast, study
from ..suite import Claim, Rule, Scale, SeedResult

ACN_EPOCH_RATIO = 420 / 300  # paper footnote 6
MODELS = ("residual", "acn")


def key(conn: str, classes: int) -> str:
    return f"{conn}-{classes}classes"


def arms(params: dict[str, Any]) -> list[Arm]:
    """Residual and ACN on the first C classes for each C (the ACN trains 1.4x longer)."""
    out = []
    for c in params["classes"]:
        for conn in MODELS:
            changes: dict[str, Any] = {"data": {"classes": None if c == 10 else c}}
            if conn == "acn":
                changes.update(scale_epochs(params["train"], ACN_EPOCH_RATIO))
            out.append(Arm(key(conn, c), conn, changes, tags={"classes": c}))
    return out


def classes_of(per_seed: list[SeedResult]) -> list[int]:
    return [n["classes"] for a, n in per_seed[0]["arms"].items() if a.startswith("acn-")]


def cutoff_growth(arms: dict[str, dict[str, Any]], conn: str) -> int:
    """Cutoff with the most classes minus with the fewest (blocks), for one connectivity."""
    classes = [n["classes"] for a, n in arms.items() if a.startswith(f"{conn}-")]
    lo, hi = min(classes), max(classes)
    return arms[key(conn, hi)]["cutoff"] - arms[key(conn, lo)]["cutoff"]


def growth(conn: str) -> Contrast:
    return Contrast(f"{conn}_cutoff_growth", lambda arms: cutoff_growth(arms, conn))


def growth_over_residual(arms: dict[str, dict[str, Any]]) -> int:
    """The second part: how much more the ACN's cutoff grows than the residual's (blocks)."""
    return cutoff_growth(arms, "acn") - cutoff_growth(arms, "residual")


def plot(per_seed: list[SeedResult], out_dir: Path) -> list[Path]:
    classes = classes_of(per_seed)
    cutoffs = {conn: [[r["arms"][key(conn, c)]["cutoff"] for c in classes] for r in per_seed]
               for conn in MODELS}  # fmt: skip
    first = plot_curves(
        cutoffs,
        out_dir / "cutoff_vs_classes.png",
        title="Fig. 4: cutoff depth vs number of classes (paper: ACN 8/10/12 of 16, residual 16)",
        xlabel="number of classes",
        ylabel="cutoff depth (blocks)",
        x=classes,
    )
    curves = {f"acn, {c} classes": [r["arms"][key("acn", c)]["accuracy_per_depth"]
                                    for r in per_seed] for c in classes}  # fmt: skip
    second = plot_curves(
        curves,
        out_dir / "acn_accuracy_vs_depth.png",
        title="ACN accuracy at every depth per number of classes",
        xlabel="depth k (blocks used, shared head)",
        ylabel="test accuracy (%)",
    )
    return [first, second]


CLAIM = Claim(
    text="The ACN's cutoff depth grows with the task's difficulty (number of classes); the "
    "residual network always uses its full depth",
    paper="16-layer Mixers on CIFAR-10 subsets: ACN cutoff 8 / 10 / 12 of 16 for 2 / 5 / 10 "
    "classes, residual 16 / 16 / 16 (residual 300 epochs, ACN 420)",
)
RULE = Rule(
    quantity="acn_cutoff_growth",
    direction="greater",
    threshold=0.0,
    describe="seed-paired ACN cutoff with the most classes - with the fewest (blocks); and "
    "(also) the residual staying at its full depth or growing less: ACN growth - residual "
    "growth (blocks); 95% t-intervals over seeds",
    also=(
        Rule(
            quantity="acn_minus_residual_cutoff_growth",
            direction="greater",
            threshold=0.0,
            describe="seed-paired ACN cutoff growth - residual cutoff growth (blocks): positive "
            "if the residual stays at its full depth while the ACN grows, or grows less",
        ),
    ),
)
MEASURES = (
    ACCURACY,
    CUTOFF,
    EPOCHS,
    ACCURACY_PER_DEPTH,
    DEPTH,
    Measure("classes", lambda t: t.tags["classes"]),
)
CONTRASTS = (
    growth("acn"),
    growth("residual"),
    Contrast("acn_minus_residual_cutoff_growth", growth_over_residual),
)
SMOKE_SCALE = Scale(
    params={"train": SMOKE, "classes": [2, 5]},
    changes="3-block Mixer, 20 digits per class, 1 epoch, 2 and 5 classes",
)

# what every setting of this experiment shares; each adds its name, title and scales
STUDY: dict[str, Any] = {
    "claim": CLAIM,
    "rule": RULE,
    "arms": arms,
    "measures": MEASURES,
    "contrasts": CONTRASTS,
    "plot": plot,
}

EXPERIMENT = study(
    name="difficulty",
    title="Harder tasks use more layers (Fig. 4)",
    **STUDY,
    scales={
        "smoke": SMOKE_SCALE,
        "cpu": Scale(
            params={"train": MNIST_MIXER, "classes": [2, 5, 10]},
            changes="first 2/5/10 MNIST-5k digit classes (400 train digits per class) instead "
            "of CIFAR-10 classes; 16-block width-32 Mixer; residual 25 epochs, ACN 35 (the "
            "paper's 420/300 ratio) instead of 300/420",
        ),
        "paper": Scale(
            params={"train": {**CIFAR_MIXER, "epochs": 300}, "classes": [2, 5, 10]},
            changes="the paper's setting (residual 300 epochs, ACN 420)",
        ),
    },
)

# 30 epochs for the residual, 42 for the ACN; evaluated every 5 epochs (the cutoff is read
# from the last evaluation). Sized to 16-20 minutes for 3 seeds on 2 idle cores (3.8e13 training
# FLOPs at the 32-40 GFLOP per CPU-second measured for one epoch of this Mixer).
CIFAR_TRAIN = merge(CIFAR_SMALL, {"epochs": 30, "eval_every": 5})

OTHER_SETTINGS = (
    study(
        name="difficulty-cifar",
        title="Harder tasks use more layers, on CIFAR-10 classes (Fig. 4)",
        **STUDY,
        scales={
            "smoke": SMOKE_SCALE,
            "cpu": Scale(
                params={"train": CIFAR_TRAIN, "classes": [2, 5, 10]},
                changes="the first 2/5/10 CIFAR-10 classes, 300 training images per class (of "
                "the first 4,000 of each split); an 8-block width-64 Mixer with 8x8 patches "
                "instead of 16 x 128 with 4x4; residual 30 epochs, ACN 42 (the paper's 420/300 "
                "ratio) instead of 300/420; flips, no CutMix or AutoAugment",
            ),
        },
    ),
)
