"""Model files: safetensors weights with the architecture in the metadata.

``acn.save(model, path)`` writes one self-describing file (atomically: temp file + rename, so an
interrupted write never replaces a good file with a broken one). ``acn.load(path)`` rebuilds the
model from the metadata alone; no pickle is ever involved.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, load_model, save_model

from .errors import CheckpointError
from .models.base import StackModel
from .models.registry import FAMILIES, build_model
from .utils import atomic_write

FORMAT_VERSION = "1"
MODEL_FILE = "model.safetensors"


def model_metadata(model: StackModel) -> dict[str, str]:
    """What a model file records about the architecture (strings, as safetensors requires)."""
    return {
        "acn_format": FORMAT_VERSION,
        "family": model.family,
        "config": json.dumps(dataclasses.asdict(model.config)),
    }


def save(
    model: StackModel, path: str | os.PathLike, metadata: dict[str, str] | None = None
) -> Path:
    """Write ``model`` to ``path`` (a ``.safetensors`` file), atomically."""
    meta = {**(metadata or {}), **model_metadata(model)}
    atomic_write(path, lambda tmp: save_model(model, tmp, metadata=meta))
    return Path(path)


def resolve_model_path(path: str | os.PathLike) -> Path:
    """A model file, or a run directory holding ``model.safetensors`` or ``checkpoint/model.safetensors``."""
    p = Path(path)
    if p.is_dir():
        for candidate in (p / MODEL_FILE, p / "checkpoint" / MODEL_FILE):
            if candidate.is_file():
                return candidate
        raise CheckpointError(f"no {MODEL_FILE} in run directory {p}")
    if not p.exists():
        raise CheckpointError(f"checkpoint not found: {p}")
    return p


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a model file, or a one-line CheckpointError if it is not one."""
    p = resolve_model_path(path)
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"corrupt or unreadable checkpoint {p}: {e}") from None
    if meta.get("acn_format") != FORMAT_VERSION or meta.get("family") not in FAMILIES:
        raise CheckpointError(f"{p} is not an acn model file (no acn metadata)")
    return meta


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> StackModel:
    """Rebuild the model stored at ``path`` (a model file or a run directory), in eval mode."""
    p = resolve_model_path(path)
    meta = read_metadata(p)
    model = build_model(meta["family"], json.loads(meta["config"]))
    try:
        missing, unexpected = load_model(model, str(p), strict=False, device=str(device))
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"corrupt or truncated checkpoint {p}: {e}") from None
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {p} does not match its architecture (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return model.to(device).eval()


def load_matching(
    model: StackModel, path: str | os.PathLike, skip: tuple[str, ...] | list[str] = ()
) -> tuple[list[str], list[str]]:
    """Copy into ``model`` every tensor of the model file at ``path`` whose name and shape match
    and whose name starts with none of the prefixes in ``skip``.

    Returns (copied names, names of ``model`` left as they were). Used to start a run from another
    run's weights (fine-tuning a pretrained body under a new head). A file sharing no block weight
    with ``model`` is a one-line CheckpointError: that is a wrong path, not a fine-tune.
    """
    p = resolve_model_path(path)
    read_metadata(p)
    try:
        stored = load_file(str(p))
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"corrupt or truncated checkpoint {p}: {e}") from None
    own = model.state_dict()
    copied = [
        k
        for k, v in own.items()
        if k in stored and stored[k].shape == v.shape and not k.startswith(tuple(skip))
    ]
    if not any(k.startswith("stack.") for k in copied):
        raise CheckpointError(f"{p} shares no block weights with the model to initialise")
    with torch.no_grad():
        for k in copied:
            own[k].copy_(stored[k].to(own[k].dtype))
    return copied, [k for k in own if k not in copied]
