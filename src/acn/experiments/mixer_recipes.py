"""The Mixer setting shared by the reproduce experiments, at each scale, and the numbers of a run.

A scale's ``params`` hold a ``mixer`` recipe (preset, size overrides, data spec, epochs, optimiser
and augmentation); :func:`mixer_config` turns it into a :class:`~acn.runs.config.TrainConfig` for
one seed and wiring, and :func:`run_numbers` reads back what every experiment reports about a
finished run (accuracy at every depth, cutoff, best epoch, cost of the cut model, training cost).

- smoke: 4 blocks of width 16 on 20 MNIST digits per class, 1 epoch (seconds).
- cpu: the issue's deep, narrow demo-style Mixer, 16 blocks of width 32 (token hidden 24, channel
  hidden 128, 7x7 patches) on the embedded MNIST-5k (4,000 train / 1,000 test), no CutMix,
  crop padding 2, lr 2e-3, about 5 s per epoch on one core.
- paper: the authors' CIFAR-10 Mixer (``mixer_cifar_paper``, 16 x 128) with their recipe
  (AdamW 1e-3, 10 warmup epochs, CutMix, crop padding 4, batch 64) on the CIFAR-10 shards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..compress import flops_per_depth
from ..runs.config import TrainConfig, load_config, merge
from ..runs.files import SUMMARY_FILE, read_metrics
from ..serialization import load

SMOKE_MIXER: dict[str, Any] = {
    "name": "mixer_s8",
    "overrides": {"patch_size": 7, "dim": 16, "token_hidden": 8, "channel_hidden": 32, "depth": 4},
    "data": "mnist5k",
    "per_class": 20,
    "epochs": 1,
    "lr": 2e-3,
    "warmup_epochs": 0.5,
    "cutmix_prob": 0.0,
    "crop_padding": 2,
    "batch_size": 64,
}
CPU_MIXER: dict[str, Any] = {
    **SMOKE_MIXER,
    "overrides": {
        "patch_size": 7,
        "dim": 32,
        "token_hidden": 24,
        "channel_hidden": 128,
        "depth": 16,
    },
    "per_class": None,
    "epochs": 15,
    "warmup_epochs": 1.0,
}
PAPER_MIXER: dict[str, Any] = {
    "name": "mixer_cifar_paper",
    "overrides": {},
    "data": "wds:{data_root}/cifar10-jpeg-wds",
    "per_class": None,
    "epochs": 300,
    "lr": 1e-3,
    "warmup_epochs": 10.0,
    "cutmix_prob": 0.5,
    "crop_padding": 4,
    "batch_size": 64,
}


def data_spec(recipe: dict[str, Any], data_root: str | Path) -> str:
    """The recipe's dataset spec with ``{data_root}`` filled in."""
    return str(recipe["data"]).format(data_root=str(data_root).rstrip("/"))


def mixer_config(
    recipe: dict[str, Any],
    ctx: Any,
    seed: int,
    connectivity: str,
    *,
    depth: int | None = None,
    epochs: int | None = None,
    values: dict[str, Any] | None = None,
) -> TrainConfig:
    """TrainConfig of ``recipe`` for one seed and wiring; ``values`` (nested config keys, e.g.
    ``{"data": {"classes": [0, 1]}, "loss": "exits"}``) change anything else."""
    overrides = dict(recipe["overrides"])
    if depth is not None:
        overrides["depth"] = depth
    epochs = int(epochs if epochs is not None else recipe["epochs"])
    base = {
        "model": {"name": recipe["name"], "connectivity": connectivity, "overrides": overrides},
        "data": {"spec": data_spec(recipe, ctx.data_root), "per_class": recipe.get("per_class")},
        "augment": {"cutmix_prob": recipe["cutmix_prob"], "crop_padding": recipe["crop_padding"]},
        # warmup must stay below the run's length: short runs (fine-tunes) warm up for 10 %
        "optim": {"lr": recipe["lr"], "warmup_epochs": min(recipe["warmup_epochs"], epochs / 10)},
        "epochs": epochs,
        "batch_size": recipe["batch_size"],
        "eval_every": 1,
        "seed": seed,
        "device": getattr(ctx, "device", "auto") or "auto",
    }
    return load_config(None, merge(base, values or {}))


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / SUMMARY_FILE).read_text())


def run_numbers(run_dir: str | Path, *, flops: bool = True) -> dict[str, Any]:
    """What a finished run reports: final accuracy at every depth, cutoff and the share of the
    network it uses, the best evaluation's epoch and accuracy, wall time and, with ``flops``, the
    inference FLOPs per sample at every depth (model truncated at k = 0..L)."""
    s = read_summary(run_dir)
    records = read_metrics(run_dir)
    best = max(records, key=lambda r: r["accuracy"]) if records else {"epoch": 0, "accuracy": 0.0}
    out = {
        "accuracy": s["accuracy"],
        "accuracy_per_depth": s["accuracy_per_depth"],
        "depth": s["depth"],
        "cutoff_depth": s["cutoff_depth"],
        "network_used_pct": 100.0 * s["cutoff_depth"] / max(s["depth"], 1),
        "params": s["params"],
        "cut_model_params": s["cut_model_params"],
        "best_epoch": best["epoch"],
        "best_accuracy": best["accuracy"],
        "epochs": s["epochs"],
        "steps": s["steps"],
        "train_time_s": s["train_time_s"],
    }
    if flops:
        out["flops_per_depth"] = flops_per_depth(load(run_dir))
    return out


def training_flops(forward_flops: float, samples: int, epochs: int) -> float:
    """Estimated training FLOPs: 3 x forward (forward + backward) per sample seen."""
    return 3.0 * forward_flops * samples * epochs
