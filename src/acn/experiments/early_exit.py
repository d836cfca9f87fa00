"""The paper's Table 7 at CPU scale: six configurations trained and compared with one command.

Residual and ACN Mixers, each (1) plain, evaluated with a global cutoff calibrated on validation,
(2) with branches, (3) with the shared exit head, trained on MNIST-5k with ``acn.train`` and
measured with :func:`acn.exits.evaluate_exits` (entropy policy, threshold calibrated to a target
accuracy drop). Where the paper uses a 16-layer CIFAR-10 Mixer with branches at 4, 8, 12, this
runs an 8-layer Mixer (patch 7: 16 tokens + cls) with branches at 2, 4, 6. CutMix is off and the
crop padding is 2 pixels: with a few epochs on 4,000 digits, the paper's CIFAR augmentation only
slows training down.

Runs go to ``OUT/<config>``; a finished run with the same config is reused (not retrained), an
interrupted one is resumed from its checkpoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..exits.evaluate import ExitEvalConfig, ExitReport, evaluate_exits
from ..exits.splits import load_exit_splits
from ..models.base import StackModel
from ..runs.config import CONFIG_FILE, load_config, load_run_config, to_dict
from ..runs.files import SUMMARY_FILE
from ..serialization import load
from ..train.checkpoint import has_checkpoint
from ..train.distributed import resolve_device
from ..train.loop import train

# (row name, connectivity, exit heads), in Table 7's order
CONFIGS: tuple[tuple[str, str, str], ...] = (
    ("res-plain", "residual", "final"),
    ("acn-plain", "acn", "final"),
    ("res-branches", "residual", "branches"),
    ("acn-branches", "acn", "branches"),
    ("res-shared", "residual", "shared"),
    ("acn-shared", "acn", "shared"),
)

CPU_MODEL = {"patch_size": 7, "channel_hidden": 128}  # on top of the mixer_s8 preset
QUICK_MODEL = {"patch_size": 7, "depth": 4, "dim": 16, "token_hidden": 8, "channel_hidden": 32}


@dataclass
class Table7Config:
    """What the comparison trains and how it measures; ``quick()`` gives a seconds-long smoke run."""

    out_dir: str = "runs/table7"
    model: str = "mixer_s8"
    overrides: dict[str, Any] = field(default_factory=lambda: dict(CPU_MODEL))
    branches: tuple[int, ...] = (2, 4, 6)
    data: str = "mnist5k"
    per_class: int | None = None  # train on k samples per class (quick mode)
    epochs: int = 8
    batch_size: int = 64
    seed: int = 0
    evaluation: ExitEvalConfig = field(default_factory=ExitEvalConfig)

    @classmethod
    def quick(cls, **changes: Any) -> Table7Config:
        timing = ExitEvalConfig(latency_samples=8, warmup=0, repeats=1)
        base = dict(
            overrides=dict(QUICK_MODEL),
            branches=(1, 2, 3),
            per_class=20,
            epochs=1,
            evaluation=timing,
        )
        return cls(**{**base, **changes})


def train_config(c: Table7Config, name: str, connectivity: str, heads: str):
    """The ``acn.train`` config of one row."""

    overrides = dict(c.overrides)
    if heads == "branches":
        overrides["exit_branches"] = list(c.branches)
    values = {
        "model": {"name": c.model, "connectivity": connectivity, "overrides": overrides},
        "data": {"spec": c.data, "per_class": c.per_class},
        "augment": {"cutmix_prob": 0.0, "crop_padding": 2},
        "optim": {"warmup_epochs": min(1.0, c.epochs / 10), "decay_params": "matrices"},
        "epochs": c.epochs,
        "batch_size": c.batch_size,
        "eval_every": max(1, c.epochs // 4),
        "seed": c.seed,
        "loss": "ce" if heads == "final" else "exits",
        "loss_options": {} if heads == "final" else {"heads": heads},
        "out_dir": str(Path(c.out_dir) / name),
    }
    return load_config(None, values)


def train_or_reuse(cfg, log: Callable[[str], None] | None) -> StackModel:
    """Train ``cfg`` into its out_dir, resume it, or reuse it when it already finished."""

    run_dir = Path(cfg.out_dir)
    if (run_dir / CONFIG_FILE).is_file():
        if to_dict(load_run_config(run_dir)) != to_dict(cfg):
            raise ConfigError(
                f"{run_dir} holds a run with another config; remove it or choose another --out"
            )
        if (run_dir / SUMMARY_FILE).is_file():
            if log:
                log(f"reusing the finished run {run_dir}")
            return load(run_dir, resolve_device(cfg.device))
    resume = has_checkpoint(run_dir)
    return train(cfg, resume=resume, progress=False, log=log).model


def run_table7(c: Table7Config, log: Callable[[str], None] | None = print) -> list[ExitReport]:
    """Train (or reuse) the six configurations and measure each; returns one report per row."""
    reports = []
    for i, (name, connectivity, heads) in enumerate(CONFIGS):
        if log:
            log(f"[{i + 1}/{len(CONFIGS)}] {name}")
        cfg = train_config(c, name, connectivity, heads)
        model = train_or_reuse(cfg, log).eval()
        val, test, _ = load_exit_splits(model, cfg.out_dir, seed=c.seed)
        ev = dataclasses.replace(c.evaluation, heads=heads)
        reports.append(evaluate_exits(model, val, test, ev, name=name))
    return reports
