"""What a saved model records about itself, and Hugging Face's ``save_pretrained`` layout.

A model file is safetensors weights whose metadata holds the family, the config and the model's
``pretrained_cfg`` (:func:`model_metadata`): what a user needs besides the weights to use it, the
way timm keeps ``pretrained_cfg`` - preprocessing (normalisation, input size, class subset and
names) and, for text models, the tokenizer. ``pretrained_cfg`` is a JSON-safe dict; a file written
before it existed loads with an empty one. ``model.save_pretrained(DIR)`` writes that same file as
``DIR/model.safetensors`` plus ``DIR/config.json`` (the config as plain JSON, with the family and
format), the layout Hugging Face tools expect; ``acn.from_pretrained(DIR)`` and every command
that takes a model read it back. Local directories only: nothing here touches the network.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from safetensors.torch import save_model

from ..errors import CheckpointError, ConfigError
from ..utils import atomic_write, parse_json, read_text, write_json

FORMAT_VERSION = "1"
MODEL_FILE = "model.safetensors"
CONFIG_JSON = "config.json"
PRETRAINED_CFG = "pretrained_cfg"  # metadata / config.json key of the model's pretrained_cfg
# a config.json is a few kB, or about a MB with a text model's tokenizer inside; refused unread
# above this
MAX_CONFIG_JSON_BYTES = 64 << 20
# keys of config.json that describe the file, not the model's config
_FILE_KEYS = ("acn_format", "family", "architectures", PRETRAINED_CFG)


def model_metadata(model: Any) -> dict[str, str]:
    """What a model file records about the architecture (strings, as safetensors requires)."""
    if getattr(model, "pruned_for_features", False):
        raise ConfigError(
            "this model's head or final norm was replaced by prune_intermediate_layers("
            "prune_head=True or prune_norm=True); a model file holds the whole classifier its "
            "config describes: save before pruning, or prune with prune_head=False"
        )
    meta = {
        "acn_format": FORMAT_VERSION,
        "family": model.family,
        "config": json.dumps(dataclasses.asdict(model.config)),
    }
    if model.pretrained_cfg:
        meta[PRETRAINED_CFG] = json.dumps(model.pretrained_cfg)
    return meta


def pretrained_config(model: Any) -> dict[str, Any]:
    """The ``config.json`` of ``model``: file keys first, then every config field."""
    out = {
        "acn_format": FORMAT_VERSION,
        "family": model.family,
        "architectures": [type(model).__name__],
        **dataclasses.asdict(model.config),
    }
    if model.pretrained_cfg:
        out[PRETRAINED_CFG] = model.pretrained_cfg
    return out


def metadata_from_config_json(path: str | os.PathLike) -> dict[str, str]:
    """Model-file metadata rebuilt from a ``config.json`` (for weights saved without it)."""
    text = read_text(path, CONFIG_JSON, MAX_CONFIG_JSON_BYTES, CheckpointError)
    values = parse_json(text, f"{path} is not an acn config.json", CheckpointError)
    if not isinstance(values, dict) or values.get("acn_format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not an acn config.json (no acn_format)")
    config = {k: v for k, v in values.items() if k not in _FILE_KEYS}
    meta = {
        "acn_format": FORMAT_VERSION,
        "family": str(values.get("family")),
        "config": json.dumps(config),
    }
    if values.get(PRETRAINED_CFG):
        meta[PRETRAINED_CFG] = json.dumps(values[PRETRAINED_CFG])
    return meta


def read_pretrained_cfg(meta: dict[str, str], where: str) -> dict[str, Any]:
    """The ``pretrained_cfg`` recorded in model-file metadata ({} if none), checked to be a JSON
    object; ``where`` names the file in the one-line error."""
    text = meta.get(PRETRAINED_CFG)
    if not text:
        return {}
    value = parse_json(text, f"{where} has a corrupt pretrained_cfg", CheckpointError)
    if not isinstance(value, dict):
        raise CheckpointError(f"{where} has a corrupt pretrained_cfg (not a JSON object)")
    return value


class PretrainedIO:
    """Mixin for :class:`acn.models.base.StackModel`: ``save_pretrained(DIR)``."""

    def save_pretrained(self, save_directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``save_directory`` (created if
        needed), each atomically; the weights file is also a standalone acn model file."""
        d = Path(save_directory).expanduser()
        if d.exists() and not d.is_dir():
            raise CheckpointError(f"{d} exists and is not a directory")
        meta = model_metadata(self)
        atomic_write(d / MODEL_FILE, lambda tmp: save_model(self, tmp, metadata=meta))
        write_json(d / CONFIG_JSON, pretrained_config(self))
        return d
