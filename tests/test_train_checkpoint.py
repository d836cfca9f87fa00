"""Checkpoints: atomic pair of safetensors weights + weights-only state; bad ones refused in one line."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import acn
from acn.errors import CheckpointError
from acn.models import build_model
from acn.train import load_config, train
from acn.train.checkpoint import STEP_KEY, load_checkpoint, read_state


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_runs):
    """A finished 2-epoch run of 8 steps."""
    return tiny_runs.copy("train", tmp_path_factory.mktemp("ckpt"))


@pytest.fixture
def run_copy(tiny_runs, tmp_path):
    return tiny_runs.copy("train", tmp_path)


def _without_checksums(run_dir):
    """Drop the checksum file, so that the parsers' own checks are what a tampered file meets."""
    (run_dir / "checkpoint" / "checksums.json").unlink()
    return run_dir


def _resume(run_dir, *extra):
    """Resume the run in ``run_dir`` with its own config (as ``acn train --resume`` does)."""
    cfg = load_config(run_dir / "config.yaml", ["--epochs=3", f"--out_dir={run_dir}", *extra])
    return train(cfg, resume=True, log=None)


def _one_line_error(run_dir, match, *extra):
    with pytest.raises(CheckpointError, match=match) as info:
        _resume(run_dir, *extra)
    assert "\n" not in str(info.value)


def test_state_is_plain_tensors_and_python(finished_run):
    state = read_state(finished_run)  # torch.load(weights_only=True) inside
    assert state["step"] == 8 and state["epoch"] == 2
    assert {"optimizer", "scheduler", "rng", "config"} <= set(state)
    meta = acn.serialization.read_metadata(finished_run)
    assert meta[STEP_KEY] == "8"


def test_resume_continues_a_finished_run_for_more_epochs(run_copy):
    result = _resume(run_copy)
    assert result.summary["epochs"] == 3 and result.summary["steps"] == 12


def test_corrupt_state_is_refused(run_copy):
    _without_checksums(run_copy)
    (run_copy / "checkpoint" / "state.pt").write_bytes(b"not a torch file at all")
    _one_line_error(run_copy, "is not a training state acn wrote")


def test_truncated_state_is_refused(run_copy):
    _without_checksums(run_copy)
    path = run_copy / "checkpoint" / "state.pt"
    path.write_bytes(path.read_bytes()[:200])
    _one_line_error(run_copy, "corrupt or truncated training state")


def test_truncated_weights_are_refused(run_copy):
    _without_checksums(run_copy)
    path = run_copy / "checkpoint" / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    _one_line_error(run_copy, "corrupt or (truncated|unreadable) checkpoint")


def test_missing_state_is_refused(run_copy):
    (run_copy / "checkpoint" / "state.pt").unlink()
    _one_line_error(run_copy, "no training state to resume from")


def test_weights_and_state_from_different_steps_are_refused(run_copy):
    _without_checksums(run_copy)
    # weights and state of different steps (the old layout could leave such a pair)
    weights = run_copy / "checkpoint" / "model.safetensors"
    acn.save(acn.load(weights), weights, metadata={STEP_KEY: "4"})
    _one_line_error(run_copy, "inconsistent: weights are from step 4, training state from step 8")


def test_other_architecture_is_refused(run_copy):
    _one_line_error(run_copy, "different architecture", "--model.overrides.depth=2")


def test_load_checkpoint_restores_weights(finished_run):
    stored = acn.load(finished_run)
    fresh = build_model(stored.family, dataclasses.asdict(stored.config))
    assert not torch.equal(fresh.head.weight, stored.head.weight)
    load_checkpoint(finished_run, fresh)
    for k, v in stored.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v)
