"""A trained model's ``pretrained_cfg``: what using it needs besides its weights, and the
evaluation data rebuilt from it.

:func:`describe_preprocessing` derives it from the data a run loaded (the trainer stores it on the
model, so every checkpoint and the final model file carry it): the dataset (its name and spec,
with the class subset and validation fraction), the input shape, the class names, the test-time
normalisation (per-channel mean/std of the training split) and, for text models, the tokenizer
itself (the Hugging Face ``tokenizers`` JSON, so there is no second file to keep in sync) with its
sequence length. :func:`eval_config_from` turns it back into the config whose test split and
preparation are those the model was trained for, on its recorded dataset or on another one
(``--data SPEC``): the class subset, normalisation and tokenizer stay the model's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path
from typing import Any

from ..data import AugmentConfig, cache_dir, parse_spec
from ..data.cache import write_text_atomic
from ..data.registry import SOURCES
from ..errors import ACNError, CheckpointError, ConfigError, DataError
from ..models.pretrained import read_pretrained_cfg
from ..serialization import read_metadata, resolve_model_path
from ..utils import read_text
from .config import DataSection, TrainConfig, from_dict
from .inputs import TrainData

MAX_TOKENIZER_BYTES = 64 << 20  # a WordPiece vocabulary of 30k tokens is about 1 MB


def describe_preprocessing(cfg: TrainConfig, data: TrainData) -> dict[str, Any]:
    """The ``pretrained_cfg`` of a model trained by ``cfg`` on ``data`` (JSON-safe)."""
    info, augment = data.info, data.augment
    out: dict[str, Any] = {
        "dataset": info["name"],
        "data": {
            "spec": cfg.data.spec,
            "options": dict(cfg.data.options),
            "classes": cfg.data.classes,
            "validation": cfg.data.validation,
        },
        "kind": info["kind"],
        "input_shape": [int(n) for n in info["input_shape"]],
        "class_names": [str(c) for c in info.get("classes", [])],
        "mean": None if augment.mean is None else [float(m) for m in augment.mean],
        "std": None if augment.std is None else [float(s) for s in augment.std],
        "loss": cfg.loss,  # "exits": every depth was trained to be an exit of the shared head
    }
    if info["kind"] == "lm":  # a language model's tokenizer travels as its JSON text
        out["tokenizer"] = info["tokenizer"]
        out["eos_token_id"] = info["eos_token_id"]
    elif info.get("tokenizer_path"):
        path = Path(info["tokenizer_path"])
        out["tokenizer"] = read_text(path, "tokenizer file", MAX_TOKENIZER_BYTES, DataError)
        out["max_len"] = int(info["max_len"])
    return out


def eval_config_from(
    pretrained: dict[str, Any], data: str | None = None, where: str = ""
) -> TrainConfig:
    """The config whose test split and preparation a model with ``pretrained`` (its
    ``pretrained_cfg``) was trained for; ``data`` (a dataset spec) replaces the recorded dataset,
    keeping the class subset, the validation fraction, the normalisation and the tokenizer.
    ``where`` names the model in the one-line error about a corrupt ``pretrained_cfg``."""
    where = where or "the model"
    try:
        recorded = pretrained.get("data")
        section = None if recorded is None else from_dict(recorded, DataSection, "data.")
        mean, std = pretrained.get("mean"), pretrained.get("std")
        augment = AugmentConfig(
            normalize=mean is not None,
            mean=None if mean is None else tuple(_finite(v) for v in mean),
            std=None if std is None else tuple(_finite(v) for v in std),
        )
        tokenizer, max_len = pretrained.get("tokenizer"), pretrained.get("max_len")
        shape = pretrained.get("input_shape")
        context = int(shape[0]) - 1 if shape else None  # lm rows: context + 1 token ids
        if tokenizer is not None and not isinstance(tokenizer, str):
            raise TypeError("tokenizer is not a string")
    except (KeyError, TypeError, ValueError, ACNError) as e:
        raise CheckpointError(f"{where} has a corrupt pretrained_cfg ({e})") from None
    if section is None:
        if data is None:
            raise ConfigError(
                f"{where} does not record the data it was trained on; pass --data SPEC"
            )
        section = DataSection(spec=data)
    elif data is not None and data != section.spec:
        section = dataclasses.replace(section, spec=data, options={})
    options = dict(section.options)
    if tokenizer is not None:  # the model's own tokenizer, on any text data it is given
        options["tokenizer"] = str(tokenizer_file(tokenizer))
        options.setdefault("max_len", max_len)
    if pretrained.get("kind") == "lm" and context is not None:  # the windows it was trained on
        options.setdefault("context", context)
    accepted = SOURCES[parse_spec(section.spec)[0]].options()
    options = {k: v for k, v in options.items() if k in accepted}
    return TrainConfig(data=dataclasses.replace(section, options=options), augment=augment)


def inherit_tokenizer(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with ``data.options.tokenizer`` set to the tokenizer of its ``init_from`` model
    when that model recorded one and ``cfg`` names none: a text model fine-tuned from a
    pretrained one must read the token ids it was pretrained on (a tokenizer trained afresh on
    the new data would map the same ids to other words). Otherwise ``cfg`` as it is."""
    if cfg.init_from is None or "tokenizer" in cfg.data.options:
        return cfg
    if "tokenizer" not in SOURCES[parse_spec(cfg.data.spec)[0]].options():
        return cfg
    path = resolve_model_path(Path(cfg.init_from).expanduser())
    text = read_pretrained_cfg(read_metadata(path), str(path)).get("tokenizer")
    if not isinstance(text, str):
        return cfg
    options = {**cfg.data.options, "tokenizer": str(tokenizer_file(text))}
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, options=options))


def tokenizer_file(text: str) -> Path:
    """A file holding the tokenizer JSON ``text`` (the data loaders read tokenizers from
    files): in the data cache, named by its content's hash, written once."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:20]
    path = cache_dir() / f"tokenizer-{digest}.json"
    if not path.is_file():
        write_text_atomic(path, text)
    if not path.is_file():
        raise DataError(
            f"cannot write the model's tokenizer to {path}; set ACN_CACHE_DIR to a writable folder"
        )
    return path


def _finite(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"mean/std hold {value!r}, not finite numbers")
    return float(value)
