"""Run checkpoints, written as one atomic unit.

Layout::

    RUN/checkpoint -> checkpoints/step-00000012      a relative symlink: the pointer
    RUN/checkpoints/step-00000012/model.safetensors  an ordinary ``acn.save`` model file
    RUN/checkpoints/step-00000012/state.pt           optimizer, schedule, RNG states, position
    RUN/checkpoints/step-00000012/checksums.json     sha256 of both files (written last)

``RUN/checkpoint/model.safetensors`` therefore always names the current weights (so
``acn.load(RUN)`` works), and the state file holds plain tensors and Python, read back with
``torch.load(weights_only=True)``, never unpickled.

Crash consistency: a checkpoint is written into a temporary directory, renamed to its step
directory once whole, and only then does the pointer switch to it (``os.replace`` of a symlink
is atomic); the previous step directory is deleted after that. A crash or a full disk at any
point therefore leaves the pointer on the last complete checkpoint. :func:`recover` (called
by the trainer under the run lock) deletes what an interrupted write left behind. A run
directory whose ``checkpoint`` is a plain directory (copied with ``cp -rL``, or written before
this layout) is read as is and moved under ``checkpoints/`` at the next save.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from ..errors import CheckpointError
from ..models.base import StackModel
from ..runs.run import CHECKPOINT_DIR  # the pointer
from ..serialization import CHECKSUMS_FILE, MODEL_FILE, read_metadata, verify_checksums
from ..serialization import load as load_model_file
from ..serialization import save as save_model_file
from ..utils import atomic_write, first_line, fsync_dir, sha256_file, write_json

STEPS_DIR = "checkpoints"  # where the step directories live
STATE_FILE = "state.pt"
STATE_FORMAT = 1
STEP_KEY = "acn_step"  # metadata key in the weights file
_TMP_PREFIX = ".tmp-"


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def has_checkpoint(run_dir: str | Path) -> bool:
    d = checkpoint_dir(run_dir)
    return (d / MODEL_FILE).exists() or (d / STATE_FILE).exists()


def save_checkpoint(run_dir: str | Path, model: StackModel, state: dict[str, Any]) -> Path:
    """Write the weights and the training state as one unit (see the module docstring).

    Any failure (full disk, permissions; ``OSError`` or the error types of safetensors and torch)
    is a one-line CheckpointError, and the previous checkpoint stays the current one.
    """
    run_dir = Path(run_dir)
    step = int(state["step"])
    steps = run_dir / STEPS_DIR
    final = steps / f"step-{step:08d}"
    tmp = steps / f"{_TMP_PREFIX}step-{step:08d}-{os.getpid()}"
    try:
        steps.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        save_model_file(model, tmp / MODEL_FILE, metadata={STEP_KEY: str(step)})
        payload = {"format": STATE_FORMAT, **state}
        atomic_write(tmp / STATE_FILE, lambda path: torch.save(payload, path))
        sums = {name: sha256_file(tmp / name) for name in (MODEL_FILE, STATE_FILE)}
        write_json(tmp / CHECKSUMS_FILE, {"step": step, "sha256": sums})
        fsync_dir(tmp)
        if final.exists() and _current(run_dir) != final.resolve():
            shutil.rmtree(final)  # left by a crash before its pointer switch; never current
        os.rename(tmp, final)
        fsync_dir(steps)
        _point_to(run_dir, final)
    except (OSError, SafetensorError, RuntimeError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(
            f"cannot write checkpoint {final}: {first_line(e)}; the previous checkpoint "
            f"({checkpoint_dir(run_dir)}) is unchanged"
        ) from None
    _remove_all_but_current(run_dir)
    return checkpoint_dir(run_dir)


def recover(run_dir: str | Path) -> None:
    """Tidy a run directory after a crash (call with the run lock held).

    Deletes temporary files and directories of an interrupted write and step directories that
    are not current; if the pointer is missing or dangling (a crash while a plain ``checkpoint``
    directory was moved aside), points it at the newest complete step directory.
    """
    run_dir = Path(run_dir)
    for stale in run_dir.glob(f".{CHECKPOINT_DIR}.*.tmp"):
        stale.unlink(missing_ok=True)
    pointer = checkpoint_dir(run_dir)
    if pointer.is_dir() and not pointer.is_symlink():  # plain layout: temp files of atomic_write
        for stale in pointer.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
    if not pointer.exists():  # missing, or a dangling symlink
        complete = [d for d in _step_dirs(run_dir) if (d / CHECKSUMS_FILE).is_file()]
        if complete:
            _point_to(run_dir, max(complete, key=lambda d: d.name))
    _remove_all_but_current(run_dir)


def read_state(run_dir: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The training state of a run's checkpoint; one-line CheckpointError if missing or corrupt."""
    return _read_state_file(checkpoint_dir(run_dir) / STATE_FILE, map_location)


def _read_state_file(path: Path, map_location: str | torch.device) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(
            f"no training state to resume from: {path} is missing (a run that never completed "
            "a checkpoint is started afresh, without --resume)"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for a bad file; all mean "unusable"
        if isinstance(e, pickle.UnpicklingError):  # torch's advice (load unsafely) is wrong here
            raise CheckpointError(
                f"{path} is not a training state acn wrote (corrupt, or holding objects other "
                f"than tensors and plain values: {_unpickler_detail(e)}); refusing to load it"
            ) from None
        raise CheckpointError(
            f"corrupt or truncated training state {path}: {first_line(e)}"
        ) from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT or "step" not in state:
        raise CheckpointError(f"{path} is not an acn training state file")
    return state


def load_checkpoint(
    run_dir: str | Path, model: StackModel, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load the checkpoint's weights into ``model`` and return its training state.

    Refuses (CheckpointError) files whose checksums do not match, a weights file whose
    architecture differs from ``model`` or whose step differs from the state file's.
    """
    # resolved once: a save that switches the pointer meanwhile cannot mix files of two steps
    d = checkpoint_dir(run_dir).resolve()
    weights = d / MODEL_FILE
    verify_checksums(d, (MODEL_FILE, STATE_FILE))
    state = _read_state_file(d / STATE_FILE, map_location)
    if not weights.is_file():
        raise CheckpointError(f"checkpoint weights missing: {weights}")
    weights_step = read_metadata(weights).get(STEP_KEY)
    if weights_step != str(state["step"]):
        raise CheckpointError(
            f"checkpoint in {d} is inconsistent: weights are from step {weights_step}, training "
            f"state from step {state['step']}; cannot resume"
        )
    stored = load_model_file(weights)
    if json.dumps(_config(stored), sort_keys=True) != json.dumps(_config(model), sort_keys=True):
        raise CheckpointError(
            f"checkpoint {weights} holds a different architecture than the config "
            f"({stored.config.name}, {stored.config.connectivity}, depth {stored.depth})"
        )
    model.load_state_dict(stored.state_dict())
    return state


def _unpickler_detail(error: Exception) -> str:
    """What torch's weights-only unpickler objected to, without its advice to load unsafely."""
    noise = ("weights_only", "Weights only", "Please file an issue", "Check the documentation")
    lines = [line.strip() for line in str(error).splitlines()]
    kept = [line for line in lines if line and not any(n in line for n in noise)]
    return " ".join(kept) or type(error).__name__


def _config(model: StackModel) -> dict[str, Any]:
    return {"family": model.family, **dataclasses.asdict(model.config)}


def _step_dirs(run_dir: Path) -> list[Path]:
    steps = run_dir / STEPS_DIR
    return sorted(d for d in steps.iterdir() if d.is_dir()) if steps.is_dir() else []


def _current(run_dir: Path) -> Path | None:
    pointer = checkpoint_dir(run_dir)
    return pointer.resolve() if pointer.is_symlink() and pointer.exists() else None


def _point_to(run_dir: Path, target: Path) -> None:
    """Atomically make ``RUN/checkpoint`` a relative symlink to ``target``."""
    pointer = checkpoint_dir(run_dir)
    if pointer.is_dir() and not pointer.is_symlink():
        # a plain checkpoint directory: move it aside first (a crash until the switch below
        # leaves no pointer, which recover() repairs from the complete step directory)
        aside = run_dir / STEPS_DIR / f"{_TMP_PREFIX}plain-{os.getpid()}"
        shutil.rmtree(aside, ignore_errors=True)
        os.rename(pointer, aside)
    link = run_dir / f".{CHECKPOINT_DIR}.{os.getpid()}.tmp"
    link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, run_dir), link)
    os.replace(link, pointer)
    fsync_dir(run_dir)


def _remove_all_but_current(run_dir: Path) -> None:
    """Delete step and temporary directories other than the current one (best effort)."""
    current = _current(run_dir)
    if current is None and checkpoint_dir(run_dir).exists():
        current = checkpoint_dir(run_dir).resolve()  # plain directory: keep everything it is
    for d in _step_dirs(run_dir):
        if current is None or d.resolve() != current:
            if current is None and not d.name.startswith(_TMP_PREFIX):
                continue  # no pointer at all: never delete a possibly complete checkpoint
            shutil.rmtree(d, ignore_errors=True)


def kept_checkpoint(run_dir: str | Path) -> str:
    """What a failed run left behind, for its error message: the last good checkpoint, if any."""
    if not has_checkpoint(run_dir):
        return "no checkpoint had been written yet"
    try:
        epoch = read_state(run_dir)["epoch"]
    except CheckpointError:
        epoch = "?"
    return f"the last good checkpoint ({checkpoint_dir(run_dir)}, epoch {epoch}) is intact"
