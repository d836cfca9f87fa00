"""Tiny models of every family for the export tests (depth 2, small widths: export is slow)."""

from __future__ import annotations

import torch

import acn
from acn.models import tiny_overrides

# one preset per family, mixer_cifar_paper for the Mixer (the paper's CIFAR model)
FAMILY_PRESETS = ["mlp_s4", "mixer_cifar_paper", "vit_tiny_cifar", "bert_tiny"]


def tiny(name: str, mode: str = "acn", depth: int = 2, **overrides) -> acn.StackModel:
    torch.manual_seed(0)
    return acn.create_model(
        name, connectivity=mode, **{**tiny_overrides(name), "depth": depth, **overrides}
    ).eval()


def block_indices(names) -> set[int]:
    """Block numbers that appear in parameter names like ``...stack.blocks.3.mlp.fc1.weight``."""
    found = set()
    for name in names:
        parts = str(name).replace("/", ".").split(".")
        for a, b in zip(parts, parts[1:]):
            if a == "blocks" and b.isdigit():
                found.add(int(b))
    return found
