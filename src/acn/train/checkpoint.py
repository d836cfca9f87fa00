"""Run checkpoints: ``RUN/checkpoint/model.safetensors`` + ``RUN/checkpoint/state.pt``.

The weights file is an ordinary ``acn.save`` model file (so ``acn.load(RUN)`` works); the state
file holds everything else a resumed run needs (optimizer, schedule, RNG states, position) as
tensors and plain Python, read back with ``torch.load(weights_only=True)``, never unpickled.

Crash consistency: each file is written atomically (temp file + rename), weights first and the
state file last. Both record the optimizer step they belong to, so a crash between the two
renames leaves the newest weights (still loadable on their own) with the previous state, and
``--resume`` refuses that pair with a one-line error instead of silently mixing them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..models.base import StackModel
from ..serialization import MODEL_FILE, read_metadata
from ..serialization import load as load_model_file
from ..serialization import save as save_model_file
from ..utils import atomic_write

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.pt"
STATE_FORMAT = 1
STEP_KEY = "acn_step"  # metadata key in the weights file


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def has_checkpoint(run_dir: str | Path) -> bool:
    d = checkpoint_dir(run_dir)
    return (d / MODEL_FILE).exists() or (d / STATE_FILE).exists()


def save_checkpoint(run_dir: str | Path, model: StackModel, state: dict[str, Any]) -> Path:
    """Write the weights, then the training state (see the module docstring); returns the dir."""
    d = checkpoint_dir(run_dir)
    step = int(state["step"])
    save_model_file(model, d / MODEL_FILE, metadata={STEP_KEY: str(step)})
    payload = {"format": STATE_FORMAT, **state}
    atomic_write(d / STATE_FILE, lambda tmp: torch.save(payload, tmp))
    return d


def read_state(run_dir: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The training state of a run's checkpoint; one-line CheckpointError if missing or corrupt."""
    path = checkpoint_dir(run_dir) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"no training state to resume from: {path} is missing")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for a bad file; all mean "unusable"
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"corrupt or truncated training state {path}: {detail}") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT or "step" not in state:
        raise CheckpointError(f"{path} is not an acn training state file")
    return state


def load_checkpoint(
    run_dir: str | Path, model: StackModel, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load the checkpoint's weights into ``model`` and return its training state.

    Refuses (CheckpointError) a weights file whose architecture differs from ``model`` or whose
    step differs from the state file's.
    """
    d = checkpoint_dir(run_dir)
    state = read_state(run_dir, map_location)
    weights = d / MODEL_FILE
    if not weights.is_file():
        raise CheckpointError(f"checkpoint weights missing: {weights}")
    weights_step = read_metadata(weights).get(STEP_KEY)
    if weights_step != str(state["step"]):
        raise CheckpointError(
            f"checkpoint in {d} is inconsistent: weights are from step {weights_step}, training "
            f"state from step {state['step']} (interrupted while saving?); cannot resume"
        )
    stored = load_model_file(weights)
    if json.dumps(_config(stored), sort_keys=True) != json.dumps(_config(model), sort_keys=True):
        raise CheckpointError(
            f"checkpoint {weights} holds a different architecture than the config "
            f"({stored.config.name}, {stored.config.connectivity}, depth {stored.depth})"
        )
    model.load_state_dict(stored.state_dict())
    return state


def _config(model: StackModel) -> dict[str, Any]:
    return {"family": model.family, **dataclasses.asdict(model.config)}
