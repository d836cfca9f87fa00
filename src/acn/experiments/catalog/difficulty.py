"""Experiment 3, ``difficulty`` (paper section 5.4, Fig. 4): cutoff depth vs task difficulty,
measured as the number of classes (the first 2, 5 and 10 classes, as the authors' code keeps).

The paper trains the ACN longer (420 vs 300 epochs, "to reach the performance of its residual
counterpart"); so does this experiment, with the same ratio 1.4. The verdict is on the ACN's cutoff
growing with the task: seed-paired cutoff(most classes) - cutoff(fewest classes), in blocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..figures import plot_curves
from ..measures import ACCURACY, ACCURACY_PER_DEPTH, CUTOFF, DEPTH, EPOCHS, Measure
from ..recipes import CIFAR_MIXER, MNIST_MIXER, SMOKE, scale_epochs
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


def growth(conn: str) -> Contrast:
    """Cutoff with the most classes minus with the fewest (blocks), for one connectivity."""

    def fn(arms: dict[str, dict[str, Any]]) -> int:
        classes = [n["classes"] for a, n in arms.items() if a.startswith(f"{conn}-")]
        lo, hi = min(classes), max(classes)
        return arms[key(conn, hi)]["cutoff"] - arms[key(conn, lo)]["cutoff"]

    return Contrast(f"{conn}_cutoff_growth", fn)


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


EXPERIMENT = study(
    name="difficulty",
    title="Harder tasks use more layers (Fig. 4)",
    claim=Claim(
        text="The ACN's cutoff depth grows with the task's difficulty (number of classes); "
        "the residual network always uses its full depth",
        paper="16-layer Mixers on CIFAR-10 subsets: ACN cutoff 8 / 10 / 12 of 16 for 2 / 5 / "
        "10 classes, residual 16 / 16 / 16 (residual 300 epochs, ACN 420)",
    ),
    rule=Rule(
        quantity="acn_cutoff_growth",
        direction="greater",
        threshold=0.0,
        describe="seed-paired ACN cutoff with the most classes - with the fewest (blocks); "
        "95% t-interval over seeds",
    ),
    arms=arms,
    measures=(
        ACCURACY,
        CUTOFF,
        EPOCHS,
        ACCURACY_PER_DEPTH,
        DEPTH,
        Measure("classes", lambda t: t.tags["classes"]),
    ),  # fmt: skip
    contrasts=(growth("acn"), growth("residual")),
    plot=plot,
    scales={
        "smoke": Scale(
            params={"train": SMOKE, "classes": [2, 5]},
            changes="3-block Mixer, 20 digits per class, 1 epoch, 2 and 5 classes",
        ),
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
