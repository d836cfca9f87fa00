"""Tiny models and trained runs for the early-exit tests."""

from __future__ import annotations

from pathlib import Path

import torch

import acn
from _train_helpers import tiny_config
from acn.models import tiny_overrides
from acn.train import train


def tiny(name: str = "mixer_s8", mode: str = "acn", branches=(), seed: int = 0) -> acn.StackModel:
    """A unit-test-sized preset in eval mode, optionally with exit branches."""
    torch.manual_seed(seed)
    model = acn.create_model(
        name, connectivity=mode, exit_branches=branches, **tiny_overrides(name)
    )
    return model.eval()


def trained_run(root: Path, *extra: str, name: str = "run") -> Path:
    """A run directory trained by `acn.train` on the tiny quadrant data (2 epochs, seconds)."""
    cfg = tiny_config(root, "--augment.cutmix_prob=0", "--epochs=3", *extra, name=name)
    train(cfg, progress=False, log=None)
    return Path(cfg.out_dir)
