"""Experiment 1, ``compression`` (paper section 5.2, Fig. 2 left): feed-forward vs residual vs ACN
vs ACN with only the direct gradient (``acn-dg``), accuracy at every depth and cutoffs.

The paper: only ACNs auto-compress (reach their final accuracy well before the last layer); the
DG-only ACN also compresses but is less accurate; FFN and residual use their full depth. The
verdict is on the seed-paired difference residual cutoff - ACN cutoff (blocks).

``compression`` runs on MNIST-5k; ``compression-cifar`` on CIFAR-10 (all ten classes, 300
training images each) with the CPU-sized CIFAR-10 Mixer (``recipes.CIFAR_SMALL``).
"""

from __future__ import annotations

from typing import Any

from ...runs.config import merge
from ..measures import ACCURACY, ACCURACY_PER_DEPTH, CUTOFF, DATA, DEPTH
from ..recipes import CIFAR_MIXER, CIFAR_SMALL, MNIST_MIXER, SMOKE
from ..study import Arm, Contrast, Curve, study
from ..suite import Claim, Rule, Scale

CONNECTIVITIES = ("feedforward", "residual", "acn", "acn-dg")
ARMS = tuple(Arm(c, c) for c in CONNECTIVITIES)

CLAIM = Claim(
    text="ACN (and ACN with only the direct gradient) reach their final accuracy at an "
    "intermediate layer; feed-forward and residual networks need their full depth; "
    "DG-only compresses but is less accurate",
    paper="16-layer Mixer, CIFAR-10, 100 epochs: curves only (no numbers); residual and "
    "FFN peak at layer 16, ACN and ACN-DG earlier",
)
RULE = Rule(
    quantity="residual_minus_acn_cutoff",
    direction="greater",
    threshold=0.0,
    describe="seed-paired residual cutoff - ACN cutoff in blocks (cutoff: first depth "
    "within 0.5 points of the model's own full accuracy); 95% t-interval over seeds",
)
MEASURES = (ACCURACY, CUTOFF, ACCURACY_PER_DEPTH, DEPTH, DATA)
CONTRASTS = (
    Contrast.gain("residual_minus_acn_cutoff", CUTOFF, "acn", over="residual"),
    Contrast.gain("acn_minus_acn_dg_accuracy", ACCURACY, "acn", over="acn-dg"),
)
CURVES = (
    Curve(
        "accuracy_vs_depth.png",
        "accuracy_per_depth",
        title=lambda rows: (
            "Fig. 2 left: accuracy at every depth (star: mean cutoff, "
            f"{rows[0]['arms']['acn']['data']})"
        ),
        xlabel="depth k (blocks used, shared head)",
        ylabel="test accuracy (%)",
        marks="cutoff",
    ),
)
SMOKE_SCALE = Scale(params={"train": SMOKE}, changes="3-block Mixer, 200 digits, 1 epoch")

# what every setting of this experiment shares; each adds its name, title and scales
STUDY: dict[str, Any] = {
    "claim": CLAIM,
    "rule": RULE,
    "arms": ARMS,
    "measures": MEASURES,
    "contrasts": CONTRASTS,
    "curves": CURVES,
}

EXPERIMENT = study(
    name="compression",
    title="Only ACNs auto-compress (Fig. 2 left)",
    **STUDY,
    scales={
        "smoke": SMOKE_SCALE,
        "cpu": Scale(
            params={"train": MNIST_MIXER},
            changes="16-block Mixer of width 32 (token hidden 24, channel hidden 128, 7x7 "
            "patches) on MNIST-5k (4,000 train / 1,000 test digits) instead of the width-128 "
            "Mixer on CIFAR-10; 25 epochs instead of 100; no CutMix/AutoAugment, 2-pixel crops",
        ),
        "paper": Scale(
            params={"train": CIFAR_MIXER},
            changes="the paper's setting (CIFAR-10 from JPEG shards, which are lossy)",
        ),
    },
)

# All ten classes, 300 training images each, 30 epochs, evaluated every 5 (the cutoff is read
# from the last evaluation). Sized to 16-20 minutes for 3 seeds on 2 idle cores (4 runs x 3.1e12
# training FLOPs per seed, at the 32-40 GFLOP per CPU-second measured for one epoch of this Mixer).
CIFAR_TRAIN = merge(CIFAR_SMALL, {"epochs": 30, "eval_every": 5})

OTHER_SETTINGS = (
    study(
        name="compression-cifar",
        title="Only ACNs auto-compress, on CIFAR-10 (Fig. 2 left)",
        **STUDY,
        scales={
            "smoke": SMOKE_SCALE,
            "cpu": Scale(
                params={"train": CIFAR_TRAIN},
                changes="CIFAR-10, 300 training images per class (of the first 4,000 of each "
                "split); an 8-block width-64 Mixer with 8x8 patches instead of 16 x 128 with "
                "4x4; 30 epochs instead of 100; flips, no CutMix or AutoAugment",
            ),
        },
    ),
)
