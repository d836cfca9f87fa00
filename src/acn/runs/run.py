"""``Run(path)``: the one reader of a training run directory.

A run directory holds ``config.yaml`` (the resolved config), ``metrics.jsonl`` (one record per
evaluation), ``summary.json`` (written when training finishes), ``checkpoint/`` (a pointer to the
latest ``checkpoints/step-N/`` with ``model.safetensors``, ``state.pt`` and ``checksums.json``) and
a ``.lock`` while a process trains in it. Every command and experiment that reads a run reads it
through this class, so there is one place that knows the layout and one message per problem.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..models.base import StackModel
from ..models.pretrained import MODEL_FILE
from ..serialization import load
from ..utils import parse_json, read_text
from .config import CONFIG_FILE, TrainConfig, load_config
from .files import METRICS_FILE, SUMMARY_FILE, read_metrics

CHECKPOINT_DIR = "checkpoint"  # the pointer to the latest checkpoints/step-N/
MAX_SUMMARY_BYTES = 16 << 20  # a summary is a few kB; anything near this is not one
# Keys every summary acn writes has; a summary without them was not written by a finished run.
SUMMARY_KEYS = ("depth", "cutoff_depth", "accuracy", "accuracy_per_depth")


class Run:
    """A training run directory (see the module docstring); nothing is read until asked for."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # -- what the directory holds ------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def model_path(self) -> Path:
        """The latest checkpoint's model file (through the ``checkpoint`` pointer)."""
        return self.path / CHECKPOINT_DIR / MODEL_FILE

    @property
    def exists(self) -> bool:
        """Whether this is a run directory at all (it has a ``config.yaml``)."""
        return self.config_path.is_file()

    @property
    def finished(self) -> bool:
        """Whether training finished (``summary.json`` is only written at the end)."""
        return self.summary_path.exists()

    @property
    def has_checkpoint(self) -> bool:
        return self.model_path.is_file()

    # -- reading ---------------------------------------------------------------------------------
    @cached_property
    def config(self) -> TrainConfig:
        """The resolved config the run trained with."""
        if not self.exists:
            raise CheckpointError(f"{self.path} is not a run directory (no {CONFIG_FILE})")
        return load_config(self.config_path)

    @cached_property
    def summary(self) -> dict[str, Any]:
        """``summary.json`` of a finished run, checked to be the shape acn writes."""
        path = self.summary_path
        if not path.exists():
            raise CheckpointError(f"{self.path} has not finished training (no {SUMMARY_FILE})")
        text = read_text(path, "run summary", MAX_SUMMARY_BYTES, CheckpointError)
        data = parse_json(text, f"cannot read {path}", CheckpointError)
        if not isinstance(data, dict):
            raise CheckpointError(f"{path} is not a summary acn wrote (not a JSON object)")
        missing = [k for k in SUMMARY_KEYS if k not in data]
        if missing:
            raise CheckpointError(f"{path} is not a summary acn wrote (no {', '.join(missing)})")
        return data

    def metrics(self) -> list[dict[str, Any]]:
        """The ``metrics.jsonl`` records, one per evaluation (empty before the first)."""
        return read_metrics(self.path)

    def model(self, device: str | torch.device = "cpu") -> StackModel:
        """The latest checkpoint's model, in eval mode on ``device``."""
        if not self.has_checkpoint:
            raise CheckpointError(f"{self.path} has no checkpoint ({CHECKPOINT_DIR}/{MODEL_FILE})")
        return load(self.path, device)
