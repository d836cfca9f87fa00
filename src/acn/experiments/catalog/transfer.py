"""Experiment ``transfer`` (paper §5.9, Table 4): pretrain upstream, fine-tune downstream.

Four upstream models of the same size: the ACN (plain cross-entropy), two residual models
trained with intermediate-layer losses that also push task information into early layers:
``aligned`` (every depth through the shared head with linearly increasing weights
w_l = 2(l+1)/(L(L+1)), as the setup of Jiang et al. 2025; ``loss: exits``) and ``layerskip``
(layer dropout, rotational early-exit curriculum, p_max 0.1, e_scale 0.2; ``loss: layerskip``).
and, as a control, the plain residual model (cross-entropy only: the twin of the ACN), which
says whether the intermediate losses help or hurt transfer at all. Each is then fine-tuned in full
on the downstream task with plain cross-entropy and a fresh head (the class counts differ, so the
head cannot be copied); the downstream test accuracy is compared. The rule is the paper's
comparison (the ACN against the better of Aligned and LayerSkip); the control is reported beside.
"""

from __future__ import annotations

from typing import Any

from ..measures import ACCURACY, ACCURACY_PER_DEPTH, CUTOFF
from ..recipes import CIFAR100, CIFAR_MIXER, MNIST_MIXER, SMOKE, Recipe
from ..study import Arm, Contrast, Curve, study
from ..suite import Claim, Rule, Scale

# name -> (connectivity, upstream loss, its options)
MODELS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "acn": ("acn", "ce", {}),
    "res-aligned": ("residual", "exits", {"heads": "shared"}),
    "res-layerskip": ("residual", "layerskip", {"p_max": 0.1, "e_scale": 0.2}),
    "residual": ("residual", "ce", {}),  # the control: no intermediate loss
}
COMPARED = ("res-aligned", "res-layerskip")  # the paper's Table 4 rows the ACN is judged against


def stage_changes(stage: dict[str, Any], **more: Any) -> Recipe:
    """Config changes of one stage (upstream or downstream): its data, class subset, epochs."""
    data = {"classes": stage.get("classes"), "per_class": stage.get("per_class")}
    if "data" in stage:
        data["spec"] = stage["data"]
    epochs = stage["epochs"]
    return {"data": data, "epochs": epochs, "optim": {"warmup_epochs": epochs / 10}, **more}


def arms() -> list[Arm]:
    """Per model: the upstream run, then its fine-tuning, which starts from it."""
    out = []
    for name, (conn, loss, options) in MODELS.items():
        up = lambda p, _u, loss=loss, o=options: stage_changes(  # noqa: E731
            p["upstream"], loss=loss, loss_options=o, dg_share=False
        )
        out.append(Arm(f"{name}-upstream", conn, up))
        out.append(Arm(f"{name}-downstream", conn, lambda p, _u: stage_changes(p["downstream"]),
                       after=f"{name}-upstream"))  # fmt: skip
    return out


def acn_minus_best_other(a: dict[str, dict[str, Any]]) -> float:
    """The rule's quantity: the ACN minus the better of Aligned and LayerSkip (points)."""
    best = max(a[f"{m}-downstream"]["accuracy"] for m in COMPARED)
    return a["acn-downstream"]["accuracy"] - best


def minus_residual_contrasts() -> tuple[Contrast, ...]:
    """Each other model's downstream accuracy over the plain residual control (points)."""

    def gain(model: str) -> Contrast:
        return Contrast(
            f"{model}_minus_residual_pt",
            lambda a: a[f"{model}-downstream"]["accuracy"] - a["residual-downstream"]["accuracy"],
        )

    return tuple(gain(m) for m in MODELS if m != "residual")


_SMALL_UP = {"classes": [0, 1, 2, 3, 4, 5]}  # digits 0-5 upstream
_SMALL_DOWN = {"classes": [6, 7, 8, 9]}  # digits 6-9 downstream (4 classes: a fresh head)

EXPERIMENT = study(
    name="transfer",
    title="Transfer: ACN vs residual with Aligned or LayerSkip intermediate losses (Table 4)",
    claim=Claim(
        text="An ACN pretrained upstream transfers better than residual models trained with "
        "Aligned or LayerSkip intermediate losses",
        paper="CIFAR-100 -> CIFAR-10: AC-Mixer 85.38 +- 0.7, Aligned 82.9 +- 0.9, "
        "LayerSkip 79 +- 1.2",
    ),
    rule=Rule(
        quantity="acn_minus_best_other_pt",
        direction="greater",
        threshold=0.0,
        describe="seed-paired downstream accuracy of the ACN minus the better of Aligned and "
        "LayerSkip (points); 95% t-interval over seeds",
    ),
    arms=arms(),
    measures=(ACCURACY, CUTOFF, ACCURACY_PER_DEPTH),
    contrasts=(
        Contrast("acn_minus_best_other_pt", acn_minus_best_other),
        *minus_residual_contrasts(),
    ),
    curves=(
        Curve(
            "downstream_accuracy_vs_depth.png",
            "accuracy_per_depth",
            arms=tuple(f"{m}-downstream" for m in MODELS),
            labels={f"{m}-downstream": m for m in MODELS},
            title="Transfer: downstream accuracy at every depth",
            xlabel="depth k (blocks used)",
            ylabel="test accuracy (%)",
        ),
    ),  # fmt: skip
    scales={
        "smoke": Scale(
            params={
                "train": SMOKE,
                "upstream": {**_SMALL_UP, "per_class": 20, "epochs": 1},
                "downstream": {**_SMALL_DOWN, "per_class": 20, "epochs": 1},
            },
            changes="3-block width-16 Mixer, 20 digits per class, 1 epoch each stage",
        ),
        "cpu": Scale(
            params={
                "train": MNIST_MIXER,
                "upstream": {**_SMALL_UP, "epochs": 20},
                "downstream": {**_SMALL_DOWN, "per_class": 50, "epochs": 10},
            },
            changes="MNIST-5k digits 0-5 (2,400 images, 20 epochs) -> digits 6-9 with 50 "
            "training images per class (10 epochs of full fine-tuning) instead of CIFAR-100 -> "
            "CIFAR-10; the suite's 16-block width-32 Mixer recipe",
        ),
        "paper": Scale(
            params={
                "train": CIFAR_MIXER,
                "upstream": {"data": CIFAR100, "epochs": 300},
                "downstream": {"epochs": 100},
            },
            changes="CIFAR-100 -> CIFAR-10 with the paper's Mixer; 300 upstream and 100 "
            "fine-tuning epochs (the paper states neither); full fine-tuning",
        ),
    },
)
