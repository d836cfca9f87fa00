"""Experiment ``transfer`` (paper §5.9, Table 4): pretrain upstream, fine-tune downstream.

Three upstream models of the same size: the ACN (plain cross-entropy), and two residual models
trained with intermediate-layer losses that also push task information into early layers:
``aligned`` (every depth through the shared head with linearly increasing weights
w_l = 2(l+1)/(L(L+1)), as the setup of Jiang et al. 2025; ``loss: exits``) and ``layerskip``
(layer dropout, rotational early-exit curriculum, p_max 0.1, e_scale 0.2; ``loss: layerskip``).
Each is then fine-tuned in full on the downstream task with plain cross-entropy and a fresh head
(the class counts differ, so the head cannot be copied); the downstream test accuracy is compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .context import RunContext
from .figures import plot_curves
from .outcomes import run_numbers
from .recipes import CIFAR_MIXER, MNIST_MIXER, SMOKE, train_config
from .suite import Claim, Experiment, Rule, Scale, register

# name -> (connectivity, upstream loss, its options)
MODELS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "acn": ("acn", "ce", {}),
    "res-aligned": ("residual", "exits", {"heads": "shared"}),
    "res-layerskip": ("residual", "layerskip", {"p_max": 0.1, "e_scale": 0.2}),
}


def stage_changes(stage: dict[str, Any], **more: Any) -> dict[str, Any]:
    """Config changes of one stage (upstream or downstream): its data, class subset, epochs."""
    data = {"classes": stage.get("classes"), "per_class": stage.get("per_class")}
    if "data" in stage:
        data["spec"] = stage["data"]
    epochs = stage["epochs"]
    return {"data": data, "epochs": epochs, "optim": {"warmup_epochs": epochs / 10}, **more}


def run_seed(ctx: RunContext, scale: Scale, seed: int) -> dict[str, Any]:
    p = scale.params
    recipe, up, down = p["train"], p["upstream"], p["downstream"]
    out: dict[str, Any] = {"models": {}}
    for name, (conn, loss, options) in MODELS.items():
        up_changes = stage_changes(up, loss=loss, loss_options=options, dg_share=False)
        up_run = ctx.train(f"{name}-upstream", train_config(recipe, conn, seed, ctx.data_root,
                                                            up_changes))  # fmt: skip
        # a dry run has no upstream weights: the downstream step starts fresh
        init = {"init_from": str(Path(up_run).resolve())} if up_run is not None else {}
        down_cfg = train_config(recipe, conn, seed, ctx.data_root, stage_changes(down, **init))
        down_run = ctx.train(f"{name}-downstream", down_cfg)
        if up_run is None or down_run is None:
            continue
        upstream, downstream = run_numbers(up_run, flops=False), run_numbers(down_run, flops=False)
        out["models"][name] = {
            "upstream_accuracy": upstream["accuracy"],
            "upstream_cutoff_depth": upstream["cutoff_depth"],
            "downstream_accuracy": downstream["accuracy"],
            "downstream_accuracy_per_depth": downstream["accuracy_per_depth"],
            "downstream_cutoff_depth": downstream["cutoff_depth"],
        }
    models = out["models"]
    if len(models) < len(MODELS):
        return {}
    best_other = max(v["downstream_accuracy"] for k, v in models.items() if k != "acn")
    out["acn_minus_best_other_pt"] = models["acn"]["downstream_accuracy"] - best_other
    return out


def summarize(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [s["models"] for s in per_seed if s]
    out: dict[str, Any] = {}
    for name in MODELS:
        for key in ("upstream_accuracy", "downstream_accuracy", "downstream_cutoff_depth"):
            vals = [r[name][key] for r in rows]
            out[f"{name}_{key}"] = sum(vals) / len(vals) if vals else None
    return out


def plot(per_seed: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Downstream accuracy at every depth of the three fine-tuned models."""
    rows = [s["models"] for s in per_seed if s]
    if not rows:
        return []
    curves = {m: [r[m]["downstream_accuracy_per_depth"] for r in rows] for m in MODELS}
    path = plot_curves(curves, Path(out_dir) / "downstream_accuracy_vs_depth.png",
                       title="Transfer: downstream accuracy at every depth",
                       xlabel="depth k (blocks used)", ylabel="test accuracy (%)")  # fmt: skip
    return [path]


_SMALL_UP = {"classes": [0, 1, 2, 3, 4, 5]}  # digits 0-5 upstream
_SMALL_DOWN = {"classes": [6, 7, 8, 9]}  # digits 6-9 downstream (4 classes: a fresh head)

EXPERIMENT = register(
    Experiment(
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
                    "upstream": {"data": "cifar100:{data}/cifar-100-python", "epochs": 300},
                    "downstream": {"epochs": 100},
                },
                changes="CIFAR-100 -> CIFAR-10 with the paper's Mixer; 300 upstream and 100 "
                "fine-tuning epochs (the paper states neither); full fine-tuning",
                data_needed=["cifar100", "cifar10"],
            ),
        },
        run_seed=run_seed,
        summarize=summarize,
        plot=plot,
    )
)
