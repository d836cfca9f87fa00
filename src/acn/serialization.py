"""Model files: safetensors weights with the architecture in the metadata.

``acn.save(model, path)`` writes one self-describing file (atomically: temp file + rename, so an
interrupted write never replaces a good file with a broken one). ``acn.load(path)`` rebuilds the
model from the metadata alone; no pickle is ever involved. ``model.save_pretrained(DIR)`` writes
the same file plus a ``config.json`` (:mod:`acn.models.pretrained`); :func:`load` and
:func:`from_pretrained` read either, and weights without acn metadata next to such a
``config.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_model, save_model

from .errors import CheckpointError
from .models.base import StackModel
from .models.pretrained import (
    CONFIG_JSON,
    FORMAT_VERSION,
    MODEL_FILE,
    metadata_from_config_json,
    model_metadata,
)
from .models.registry import FAMILIES, build_model
from .utils import atomic_write


def save(
    model: StackModel, path: str | os.PathLike, metadata: dict[str, str] | None = None
) -> Path:
    """Write ``model`` to ``path`` (a ``.safetensors`` file), atomically."""
    meta = {**(metadata or {}), **model_metadata(model)}
    atomic_write(path, lambda tmp: save_model(model, tmp, metadata=meta))
    return Path(path)


def resolve_model_path(path: str | os.PathLike) -> Path:
    """The model file at ``path``: a model file, a pretrained directory (``save_pretrained``) or a
    run directory, holding ``model.safetensors`` or ``checkpoint/model.safetensors``."""
    p = Path(path)
    if p.is_dir():
        for candidate in (p / MODEL_FILE, p / "checkpoint" / MODEL_FILE):
            if candidate.is_file():
                return candidate
        raise CheckpointError(f"no {MODEL_FILE} in directory {p}")
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
    config_json = p.with_name(CONFIG_JSON)
    if "acn_format" not in meta and config_json.is_file():
        meta = metadata_from_config_json(config_json)
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


def from_pretrained(directory: str | os.PathLike, device: str | torch.device = "cpu") -> StackModel:
    """The model that ``model.save_pretrained(directory)`` wrote (a local directory), in eval mode."""
    d = Path(directory).expanduser()
    if not (d / CONFIG_JSON).is_file():
        raise CheckpointError(f"{d} is not a pretrained directory (no {CONFIG_JSON})")
    return load(d, device)
