"""Experiment 4, ``noise`` (paper section 5.6, Table 2): accuracy of residual and ACN models under
test-time Gaussian noise (sigma 0.1/0.2/0.4 on [0,1] pixels) and salt-and-pepper noise (p
0.01/0.05/0.1).

The runs are the ``compression`` runs of the same scale (nothing is trained twice). Each noise
setting is drawn once per seed and applied to both models (a seed-paired comparison).

The claim is robustness, so the verdict is on the accuracy each model *loses* to the noise, not
on its noisy accuracy (which also counts a lead the ACN may have on clean data): per setting,
the residual's drop (clean - noisy) minus the ACN's, averaged over the six settings; and, as the
claim's second part, whether that difference grows with the noise level: the difference at the
strongest level minus at the weakest, averaged over the two kinds of noise. (Until this rule, the
verdict was on the ACN - residual noisy accuracy, averaged over the six settings.)
"""

from __future__ import annotations

from pathlib import Path

import torch

from ...evaluation import evaluate_per_depth
from ...runs.evaldata import load_eval_data, with_noise
from ..figures import plot_curves
from ..measures import Measure, Trained
from ..recipes import CIFAR_MIXER, MNIST_MIXER, SMOKE
from ..study import Arm, Contrast, study
from ..suite import Claim, Rule, Scale, SeedResult

MODELS = ("residual", "acn")
# (name, gaussian sigma, salt-and-pepper p); "clean" first
SETTINGS = (
    ("clean", 0.0, 0.0),
    ("gauss_0.1", 0.1, 0.0),
    ("gauss_0.2", 0.2, 0.0),
    ("gauss_0.4", 0.4, 0.0),
    ("sp_0.01", 0.0, 0.01),
    ("sp_0.05", 0.0, 0.05),
    ("sp_0.1", 0.0, 0.1),
)
NOISY = [name for name, _, _ in SETTINGS[1:]]
EVAL_BATCH = 500


def noisy_accuracy(t: Trained) -> dict[str, float]:
    """Full-model accuracy (%) of the run's model on each noise setting of its test split."""
    model = t.model()
    clean = load_eval_data(t.run.config)
    device = next(model.parameters()).device
    out = {}
    for i, (name, sigma, p) in enumerate(SETTINGS):
        torch.manual_seed(t.seed * 1000 + i)  # the same noise for every model of this seed
        batches = with_noise(clean, sigma, p).batches(EVAL_BATCH)
        out[name] = evaluate_per_depth(model, batches, device).accuracy[-1]
    return out


def _setting(name: str) -> Measure:
    return Measure(name, lambda t: t.memo("noise", lambda: noisy_accuracy(t))[name], True)


MEASURES = tuple(_setting(name) for name, _, _ in SETTINGS)
DIFFS = tuple(Contrast.gain(f"diff_{m.name}", m, "acn", over="residual") for m in MEASURES[1:])
KINDS = ("gauss", "sp")  # each kind's settings in SETTINGS go from the weakest to the strongest


def drop(arm: dict[str, float], setting: str) -> float:
    """Accuracy (points) a model loses to one noise setting: clean - noisy."""
    return arm["clean"] - arm[setting]


def drop_gap(arms: dict[str, dict[str, float]], setting: str) -> float:
    """Residual drop - ACN drop (points) under one setting: positive if the ACN loses less."""
    return drop(arms["residual"], setting) - drop(arms["acn"], setting)


def drop_gap_mean(arms: dict[str, dict[str, float]]) -> float:
    """The rule's quantity: :func:`drop_gap` averaged over the six noise settings."""
    return sum(drop_gap(arms, s) for s in NOISY) / len(NOISY)


def drop_gap_growth(arms: dict[str, dict[str, float]]) -> float:
    """The second part: drop gap at the strongest level - at the weakest, averaged over kinds."""
    growth = []
    for kind in KINDS:
        levels = [s for s in NOISY if s.startswith(kind)]
        growth.append(drop_gap(arms, levels[-1]) - drop_gap(arms, levels[0]))
    return sum(growth) / len(growth)


DROP_GAPS = tuple(Contrast(f"drop_gap_{s}", lambda a, s=s: drop_gap(a, s)) for s in NOISY)


def plot(per_seed: list[SeedResult], out_dir: Path) -> list[Path]:
    """Accuracy vs noise level, one figure per noise type (level 0 = clean)."""
    paths = []
    for kind, label, index in (("gauss", "Gaussian sigma", 1), ("sp", "salt-and-pepper p", 2)):
        names = ["clean"] + [n for n, *_ in SETTINGS if n.startswith(kind)]
        levels = [0.0] + [s[index] for s in SETTINGS if s[0].startswith(kind)]
        curves = {c: [[r["arms"][c][n] for n in names] for r in per_seed] for c in MODELS}
        paths.append(
            plot_curves(
                curves,
                out_dir / f"{kind}_noise.png",
                title=f"Table 2: test accuracy under {label} (the same noise draw for both)",
                xlabel=label,
                ylabel="test accuracy (%)",
                x=levels,
            )
        )
    return paths


EXPERIMENT = study(
    name="noise",
    title="Robustness to test-time noise (Table 2)",
    claim=Claim(
        text="ACNs are more robust to test-time input noise than residual networks (they lose "
        "less of their clean accuracy), and the gap grows with the noise level",
        paper="ViT on ImageNet, accuracy % residual vs ACN: clean 70.74 vs 70.76; Gaussian "
        "0.1/0.2/0.4: 67.68/62.80/45.46 vs 69.50/64.54/51.89; salt-and-pepper 0.01/0.05/0.1: "
        "56.80/27.48/10.34 vs 59.80/36.35/19.98 (mean gap +5.2 points)",
    ),
    rule=Rule(
        quantity="residual_minus_acn_drop_pt",
        direction="greater",
        threshold=0.0,
        describe="seed-paired residual drop minus ACN drop (clean - noisy accuracy, points), "
        "mean over the six noise settings, the same noise draw for both; and (also) that "
        "difference at the strongest level minus at the weakest, mean over Gaussian and "
        "salt-and-pepper; 95% t-intervals over seeds",
        also=(
            Rule(
                quantity="drop_gap_growth_pt",
                direction="greater",
                threshold=0.0,
                describe="drop gap (residual - ACN) at the strongest noise level minus at the "
                "weakest, mean over the two kinds of noise (points)",
            ),
        ),
    ),
    arms=tuple(Arm(c, c) for c in MODELS),
    measures=MEASURES,
    contrasts=(
        Contrast("residual_minus_acn_drop_pt", drop_gap_mean),
        Contrast("drop_gap_growth_pt", drop_gap_growth),
        *DROP_GAPS,
        *DIFFS,
        Contrast(
            "acn_minus_residual_pt",
            lambda a: sum(d.fn(a) for d in DIFFS) / len(DIFFS),
        ),
        Contrast.gain("acn_minus_residual_clean_pt", MEASURES[0], "acn", over="residual"),
    ),
    plot=plot,
    scales={
        "smoke": Scale(params={"train": SMOKE}, changes="3-block Mixer, 200 digits, 1 epoch"),
        "cpu": Scale(
            params={"train": MNIST_MIXER},
            changes="the compression runs (16-block width-32 Mixer, MNIST-5k, 25 epochs) "
            "instead of ViT-B/16 on ImageNet; noise added to [0,1] pixels before normalising",
        ),
        "paper": Scale(
            params={"train": CIFAR_MIXER},
            changes="CIFAR-10 Mixer (the suite's paper-scale recipe) instead of ViT on "
            "ImageNet, which is not available offline",
        ),
    },
)
