"""What every benchmark item gets (scale, seed, log) and the record it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ...models.base import StackModel
from ...models.registry import create_model, tiny_overrides
from .scale import Scale

# the fields every item's record has (the JSON schema test checks them)
RECORD_KEYS = ("status", "goal", "value", "met", "summary", "rows", "notes", "wall_s")


@dataclass
class BenchContext:
    scale: Scale
    seed: int = 0
    run: Path | None = None  # a trained run directory for deploy_speedup_vs_flops
    work_dir: Path | None = None  # scratch space (the tiny training run)
    log: Callable[[str], None] = print

    def model(
        self, preset: str, connectivity: str, *, full_size: bool = False, **overrides: Any
    ) -> StackModel:
        """Preset ``preset`` (unit-test sized at the smoke scale unless ``full_size``), seeded,
        in training mode."""
        torch.manual_seed(self.seed)
        tiny = self.scale.tiny and not full_size
        values = {**(tiny_overrides(preset) if tiny else {}), **overrides}
        return create_model(preset, connectivity, **values).train()


def record(
    summary: str,
    rows: list[dict[str, Any]],
    *,
    value: float | None,
    goal: str | None = None,
    met: bool | None = None,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """An item's result: a headline ``value`` against its ``goal``, and a table of ``rows``."""
    return {
        "status": "ok",
        "goal": goal,
        "value": None if value is None else round(float(value), 4),
        "met": met,
        "summary": summary,
        "rows": rows,
        "notes": notes or [],
    }


def skipped(reason: str) -> dict[str, Any]:
    return {
        "status": "skipped",
        "goal": None,
        "value": None,
        "met": None,
        "summary": f"skipped: {reason}",
        "rows": [],
        "notes": [reason],
    }
