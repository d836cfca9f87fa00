"""Model files: safetensors weights with the architecture in the metadata.

``acn.save(model, path)`` writes one self-describing file (atomically: temp file + rename, so an
interrupted write never replaces a good file with a broken one). ``acn.load(path)`` rebuilds the
model from the metadata alone; no pickle is ever involved. ``model.save_pretrained(DIR)`` writes
the same file plus a ``config.json`` (:mod:`acn.models.pretrained`); :func:`load` and
:func:`from_pretrained` read either, and weights without acn metadata next to such a
``config.json``.

The metadata is not trusted: before anything is allocated, the config it records is checked
(JSON, known keys, types, bounds) and the model it describes is built on the ``meta`` device to
compare its tensor names and shapes with the file's. A ``checksums.json`` next to the file (run
checkpoints write one) must list the file's sha256, so bit flips in tensor data are caught.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, load_model, save_model

from .errors import ACNError, CheckpointError
from .models.base import StackModel
from .models.pretrained import (
    CONFIG_JSON,
    FORMAT_VERSION,
    MODEL_FILE,
    metadata_from_config_json,
    model_metadata,
    read_pretrained_cfg,
)
from .models.registry import FAMILIES, build_model, meta_model
from .utils import atomic_write, first_line, parse_json, read_text, regular_file, sha256_file

CHECKSUMS_FILE = "checksums.json"  # {"sha256": {file name: hex digest}} beside the files
MAX_CHECKSUMS_BYTES = 1 << 20  # two digests; anything near this is not a checksum file


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
            if candidate.exists():
                return regular_file(candidate, "checkpoint", CheckpointError)
        raise CheckpointError(f"no {MODEL_FILE} in directory {p}")
    return regular_file(p, "checkpoint", CheckpointError)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a model file, or a one-line CheckpointError if it is not one."""
    p = resolve_model_path(path)
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"corrupt or unreadable checkpoint {p}: {first_line(e)}") from None
    config_json = p.with_name(CONFIG_JSON)
    if "acn_format" not in meta and config_json.exists():
        meta = metadata_from_config_json(config_json)
    if meta.get("acn_format") != FORMAT_VERSION or meta.get("family") not in FAMILIES:
        raise CheckpointError(f"{p} is not an acn model file (no acn metadata)")
    return meta


def verify_checksums(directory: str | os.PathLike, names: tuple[str, ...]) -> None:
    """Check the files ``names`` in ``directory`` against its ``checksums.json``, if it has one."""
    d = Path(directory)
    sums_path = d / CHECKSUMS_FILE
    if not sums_path.exists():
        return
    text = read_text(sums_path, "checksum file", MAX_CHECKSUMS_BYTES, CheckpointError)
    values = parse_json(text, f"corrupt checksum file {sums_path}", CheckpointError)
    sums = values.get("sha256") if isinstance(values, dict) else None
    if not isinstance(sums, dict):
        raise CheckpointError(f"corrupt checksum file {sums_path}")
    for name in names:
        if name in sums and (d / name).is_file() and sha256_file(d / name) != sums[name]:
            raise CheckpointError(
                f"checksum mismatch for {d / name}: the file changed after it was written "
                "(disk error or edit); it cannot be trusted"
            )


def stored_config(path: str | os.PathLike) -> tuple[str, dict]:
    """(family, config values) of a model file, checked against its tensors before any build.

    The config must be a JSON object the family accepts (keys, types, bounds; see
    :func:`acn.models.registry.build_config`), and the model it describes, built on the ``meta``
    device (no memory), must have exactly the file's tensor names and shapes.
    """
    p = resolve_model_path(path)
    meta = read_metadata(p)
    values = parse_json(meta.get("config", ""), f"{p} has a corrupt model config", CheckpointError)
    if not isinstance(values, dict):
        raise CheckpointError(f"{p} has a corrupt model config (not a JSON object)")
    try:
        with safe_open(str(p), framework="pt") as f:
            names = f.keys()  # a safe_open handle is not iterable
            stored = {k: list(f.get_slice(k).get_shape()) for k in names}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"corrupt or unreadable checkpoint {p}: {first_line(e)}") from None
    depth = values.get("depth")
    if isinstance(depth, int) and depth > len(stored):  # every block has tensors: a cheap bound
        raise CheckpointError(
            f"{p} claims depth {depth} but holds only {len(stored)} tensors; not a genuine model file"
        )
    try:
        skeleton = meta_model(meta["family"], values)
    except (ACNError, TypeError, ValueError, ArithmeticError, RuntimeError) as e:
        raise CheckpointError(f"{p} has an invalid model config: {first_line(e)}") from None
    expected = {k: list(v.shape) for k, v in skeleton.state_dict().items()}
    if stored != expected:
        diff = sorted(set(stored) ^ set(expected)) or [
            k for k in sorted(stored) if stored[k] != expected[k]
        ]
        raise CheckpointError(
            f"checkpoint {p} does not match its recorded architecture "
            f"({meta['family']}, depth {skeleton.depth}; first difference: {diff[0]})"
        )
    return meta["family"], values


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> StackModel:
    """Rebuild the model stored at ``path`` (a model file or a run directory), in eval mode."""
    # resolved once (through a run's checkpoint pointer), so that every read below is of the
    # same checkpoint even if a training process switches the pointer meanwhile
    p = resolve_model_path(path).resolve()
    verify_checksums(p.parent, (p.name,))
    family, values = stored_config(p)
    model = build_model(family, values)
    try:
        missing, unexpected = load_model(model, str(p), strict=False, device=str(device))
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"corrupt or truncated checkpoint {p}: {first_line(e)}") from None
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {p} does not match its architecture (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    model.pretrained_cfg = read_pretrained_cfg(read_metadata(p), str(p))
    return model.to(device).eval()


def from_pretrained(directory: str | os.PathLike, device: str | torch.device = "cpu") -> StackModel:
    """The model that ``model.save_pretrained(directory)`` wrote (a local directory), in eval mode."""
    name = os.fspath(directory)
    d = Path(name).expanduser()
    if not d.exists():
        hub = "://" in name or (not d.is_absolute() and not name.startswith((".", "~")))
        why = (
            "; acn reads local directories only and never downloads a hub id or URL" if hub else ""
        )
        raise CheckpointError(f"pretrained directory {name!r} does not exist{why}")
    if not d.is_dir():
        raise CheckpointError(f"{name} is not a pretrained directory (a file, not a directory)")
    if not (d / CONFIG_JSON).exists():
        raise CheckpointError(f"{name} is not a pretrained directory (no {CONFIG_JSON})")
    return load(d, device)


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
