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

from typing import Any

from .mixer_recipes import CPU_MIXER, PAPER_MIXER, SMOKE_MIXER, mixer_config, run_numbers
from .suite import Claim, Experiment, Rule, RunContext, Scale, register

# name -> (connectivity, upstream loss, its options)
MODELS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "acn": ("acn", "ce", {}),
    "res-aligned": ("residual", "exits", {"heads": "shared"}),
    "res-layerskip": ("residual", "layerskip", {"p_max": 0.1, "e_scale": 0.2}),
}


def stage_values(stage: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Config values of one stage (upstream or downstream): its data, class subset and size."""
    data = {"classes": stage.get("classes"), "per_class": stage.get("per_class")}
    if "data" in stage:
        data["spec"] = stage["data"]
    return {"data": data, **extra}


def run_seed(ctx: RunContext, scale: Scale, seed: int) -> dict[str, Any]:
    p = scale.params
    recipe, up, down = p["mixer"], p["upstream"], p["downstream"]
    out: dict[str, Any] = {"models": {}}
    for name, (conn, loss, options) in MODELS.items():
        up_values = stage_values(up, loss=loss, loss_options=options)
        up_cfg = mixer_config(recipe, ctx, seed, conn, epochs=up["epochs"], values=up_values)
        up_cfg.data.spec = up_cfg.data.spec.format(data_root=str(ctx.data_root).rstrip("/"))
        up_run = ctx.train(f"{name}-upstream-s{seed}", up_cfg)
        down_values = stage_values(down, init_from=str(up_run) if up_run else None)
        down_cfg = mixer_config(recipe, ctx, seed, conn, epochs=down["epochs"], values=down_values)
        down_cfg.data.spec = down_cfg.data.spec.format(data_root=str(ctx.data_root).rstrip("/"))
        if up_run is None:  # dry run: the downstream step starts from fresh weights
            down_cfg.init_from = None
        down_run = ctx.train(f"{name}-downstream-s{seed}", down_cfg)
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
                    "mixer": SMOKE_MIXER,
                    "upstream": {**_SMALL_UP, "per_class": 20, "epochs": 1},
                    "downstream": {**_SMALL_DOWN, "per_class": 20, "epochs": 1},
                },
                changes="4-block width-16 Mixer, 20 digits per class, 1 epoch each stage",
            ),
            "cpu": Scale(
                params={
                    "mixer": CPU_MIXER,
                    "upstream": {**_SMALL_UP, "epochs": 12},
                    "downstream": {**_SMALL_DOWN, "per_class": 50, "epochs": 8},
                },
                changes="MNIST-5k digits 0-5 (2,400 images, 12 epochs) -> digits 6-9 with 50 "
                "training images per class (8 epochs of full fine-tuning) instead of CIFAR-100 -> "
                "CIFAR-10; 16-block width-32 Mixer",
            ),
            "paper": Scale(
                params={
                    "mixer": PAPER_MIXER,
                    "upstream": {"data": "cifar100:{data_root}/cifar-100-python", "epochs": 300},
                    "downstream": {"epochs": 100},
                },
                changes="CIFAR-100 -> CIFAR-10 with the paper's Mixer; 300 upstream and 100 "
                "fine-tuning epochs (the paper states neither); full fine-tuning",
                data_needed=["cifar100", "cifar10"],
            ),
        },
        run_seed=run_seed,
        summarize=summarize,
    )
)
