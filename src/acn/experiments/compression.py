"""Experiment 1, ``compression`` (paper section 5.2, Fig. 2 left): feed-forward vs residual vs ACN
vs ACN with only the direct gradient (``acn-dg``), accuracy at every depth and cutoffs.

The paper: only ACNs auto-compress (reach their final accuracy well before the last layer); the
DG-only ACN also compresses but is less accurate; FFN and residual use their full depth. The
verdict is on the seed-paired difference residual cutoff - ACN cutoff (blocks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .context import RunContext
from .figures import plot_curves
from .recipes import CIFAR_MIXER, MNIST_MIXER, SMOKE, train_config
from .suite import Claim, Experiment, Rule, Scale, aggregate, register

CONNECTIVITIES = ("feedforward", "residual", "acn", "acn-dg")


def run_summaries(
    ctx: RunContext, scale: Scale, seed: int, connectivities: tuple[str, ...]
) -> dict[str, dict[str, Any]] | None:
    """Train (or reuse) one run per connectivity on the scale's recipe; their summaries."""
    runs = {
        c: ctx.train(c, train_config(scale.params["train"], c, seed, ctx.data_root))
        for c in connectivities
    }
    if ctx.dry_run:
        return None
    return {c: ctx.summary(run) for c, run in runs.items()}


def run_seed(ctx: RunContext, scale: Scale, seed: int) -> dict[str, Any]:
    summaries = run_summaries(ctx, scale, seed, CONNECTIVITIES)
    if summaries is None:
        return {}
    out: dict[str, Any] = {"depth": summaries["acn"]["depth"], "data": summaries["acn"]["data"]}
    for conn, s in summaries.items():
        key = conn.replace("-", "_")
        out[f"{key}_accuracy"] = s["accuracy"]
        out[f"{key}_cutoff"] = s["cutoff_depth"]
        out[f"{key}_accuracy_per_depth"] = s["accuracy_per_depth"]
    out["residual_minus_acn_cutoff"] = out["residual_cutoff"] - out["acn_cutoff"]
    out["acn_minus_acn_dg_accuracy"] = out["acn_accuracy"] - out["acn_dg_accuracy"]
    return out


def summarize(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [f"{c.replace('-', '_')}_{q}" for c in CONNECTIVITIES for q in ("accuracy", "cutoff")]
    return aggregate(per_seed, [*keys, "residual_minus_acn_cutoff", "acn_minus_acn_dg_accuracy"])


def plot(per_seed: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    curves = {c: [r[f"{c.replace('-', '_')}_accuracy_per_depth"] for r in per_seed]
              for c in CONNECTIVITIES}  # fmt: skip
    marks = {c: sum(r[f"{c.replace('-', '_')}_cutoff"] for r in per_seed) / len(per_seed)
             for c in CONNECTIVITIES}  # fmt: skip
    path = plot_curves(
        curves,
        out_dir / "accuracy_vs_depth.png",
        title=f"Fig. 2 left: accuracy at every depth (star: mean cutoff, {per_seed[0]['data']})",
        xlabel="depth k (blocks used, shared head)",
        ylabel="test accuracy (%)",
        marks=marks,
    )
    return [path]


EXPERIMENT = register(
    Experiment(
        name="compression",
        title="Only ACNs auto-compress (Fig. 2 left)",
        claim=Claim(
            text="ACN (and ACN with only the direct gradient) reach their final accuracy at an "
            "intermediate layer; feed-forward and residual networks need their full depth; "
            "DG-only compresses but is less accurate",
            paper="16-layer Mixer, CIFAR-10, 100 epochs: curves only (no numbers); residual and "
            "FFN peak at layer 16, ACN and ACN-DG earlier",
        ),
        rule=Rule(
            quantity="residual_minus_acn_cutoff",
            direction="greater",
            threshold=0.0,
            describe="seed-paired residual cutoff - ACN cutoff in blocks (cutoff: first depth "
            "within 0.5 points of the model's own full accuracy); 95% t-interval over seeds",
        ),
        scales={
            "smoke": Scale(params={"train": SMOKE}, changes="3-block Mixer, 200 digits, 1 epoch"),
            "cpu": Scale(
                params={"train": MNIST_MIXER},
                changes="16-block Mixer of width 32 (token hidden 24, channel hidden 128, 7x7 "
                "patches) on MNIST-5k (4,000 train / 1,000 test digits) instead of the width-128 "
                "Mixer on CIFAR-10; 25 epochs instead of 100; no CutMix/AutoAugment, 2-pixel crops",
            ),
            "paper": Scale(
                params={"train": CIFAR_MIXER},
                changes="the paper's setting (CIFAR-10 from JPEG shards, which are lossy)",
                data_needed=["cifar10-jpeg-wds"],
            ),
        },
        run_seed=run_seed,
        summarize=summarize,
        plot=plot,
    )
)
