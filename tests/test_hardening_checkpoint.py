"""Issue 8 section 5.1 and 5.7: a checkpoint is one atomic unit; a crash or a full disk at any
point of a write leaves the last complete checkpoint resumable; bit flips and hostile state files
are refused in one line."""

from __future__ import annotations

import os
import resource
import shutil
import signal
from pathlib import Path

import pytest
import torch
from safetensors import SafetensorError

import acn
from _hardening import copy_run, one_line_error, tiny_run_config, train_cli
from acn import serialization
from acn.errors import CheckpointError
from acn.runs import Run
from acn.runs import files as run_files
from acn.train import checkpoint as ckpt
from acn.train.checkpoint import read_state


class Killed(BaseException):
    """Stands for kill -9: nothing in acn catches it, so no cleanup code runs."""


def _fail_on_call(monkeypatch, module, name, n, error):
    """Make ``module.name`` raise ``error`` on its n-th call (and behave normally otherwise)."""
    real, calls = getattr(module, name), {"n": 0}

    def patched(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, patched)


def _assert_resumable_from_epoch_1(capsys, run):
    assert read_state(run)["epoch"] == 1
    assert acn.load(run).depth == 3  # the pointer names a complete, loadable checkpoint
    assert train_cli("--resume", str(run)) == 0
    capsys.readouterr()
    assert [r["epoch"] for r in Run(run).metrics()] == [1, 2]
    assert read_state(run)["epoch"] == 2
    # the crash's leftovers are gone: one step directory, no temporary files
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-00000008"]
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]


@pytest.fixture
def config(tmp_path):
    return tiny_run_config(tmp_path)


def test_kill_between_the_weights_and_the_state_leaves_a_resumable_run(
    config, tmp_path, monkeypatch, capsys
):
    # the second checkpoint dies after its weights, before its state file
    _fail_on_call(monkeypatch, ckpt, "atomic_write", 2, Killed())
    with pytest.raises(Killed):
        train_cli(str(config))
    monkeypatch.undo()
    run = tmp_path / "run"
    assert [p.name for p in (run / "checkpoints").iterdir() if p.name.startswith(".tmp-")]
    one_line_error(capsys, ["train", str(config), "--no-progress"], "already holds a run")
    _assert_resumable_from_epoch_1(capsys, run)


def test_kill_before_the_pointer_switch_leaves_a_resumable_run(
    config, tmp_path, monkeypatch, capsys
):
    _fail_on_call(monkeypatch, ckpt, "_point_to", 2, Killed())
    with pytest.raises(Killed):
        train_cli(str(config))
    monkeypatch.undo()
    run = tmp_path / "run"
    assert (run / "checkpoints" / "step-00000008").is_dir()  # whole, but never made current
    _assert_resumable_from_epoch_1(capsys, run)


def test_lost_pointer_is_restored_from_the_newest_complete_checkpoint(config, tmp_path, capsys):
    # a crash while a plain (copied) checkpoint directory was moved aside leaves no pointer
    assert train_cli(str(config), "--epochs=1") == 0
    run = tmp_path / "run"
    (run / "checkpoint").unlink()
    assert train_cli("--resume", str(run), "--epochs=2") == 0
    assert [r["epoch"] for r in Run(run).metrics()] == [1, 2]


def test_plain_checkpoint_directory_is_resumed_and_moved_under_the_pointer(config, tmp_path):
    assert train_cli(str(config), "--epochs=1") == 0
    plain = tmp_path / "plain"
    shutil.copytree(tmp_path / "run", plain)  # follows the symlink: a plain checkpoint dir
    assert not (plain / "checkpoint").is_symlink()
    assert train_cli("--resume", str(plain), "--epochs=2") == 0
    assert (plain / "checkpoint").is_symlink() and read_state(plain)["epoch"] == 2


@pytest.mark.parametrize(
    ("target", "error"),
    [
        # what safetensors raises on a full disk (not an OSError)
        (
            (serialization, "save_model"),
            SafetensorError(
                "Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "
                '"No space left on device" })'
            ),
        ),
        # what torch.save raises on a full disk (not an OSError)
        (
            (torch, "save"),
            RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos"),
        ),
        ((torch, "save"), OSError(28, "No space left on device")),
    ],
)
def test_full_disk_is_one_line_and_keeps_the_last_checkpoint(
    config, tmp_path, monkeypatch, capsys, target, error
):
    _fail_on_call(monkeypatch, *target, 2, error)
    err = one_line_error(
        capsys, ["train", str(config), "--no-progress"], r"cannot write checkpoint"
    )
    assert "previous checkpoint" in err and "unchanged" in err
    monkeypatch.undo()
    _assert_resumable_from_epoch_1(capsys, tmp_path / "run")


@pytest.mark.parametrize(
    ("fraction", "library_error"),
    [(0.5, "Error while serializing"), (1.5, "unexpected pos")],  # safetensors, torch.save
)
def test_real_write_failure_from_the_libraries(config, tmp_path, capsys, fraction, library_error):
    """No mock: a file-size limit makes the real writes fail (EFBIG) inside safetensors (limit
    below the weights file's size) or torch.save (limit between the weights' and the state's)."""
    assert train_cli(str(config), "--epochs=1") == 0
    run = tmp_path / "run"
    size = (run / "checkpoint" / "model.safetensors").stat().st_size
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(size * fraction), hard))
    try:
        argv = ["train", "--resume", str(run), "--epochs=2", "--no-progress"]
        one_line_error(capsys, argv, f"cannot write checkpoint .*{library_error}")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    _assert_resumable_from_epoch_1(capsys, run)


def test_bit_flip_in_tensor_data_is_detected(config, tmp_path, capsys):
    assert train_cli(str(config), "--epochs=1") == 0
    run = tmp_path / "run"
    weights = run / "checkpoint" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-7] ^= 0x10  # inside the last tensor: the file still parses
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        acn.load(run)
    one_line_error(capsys, ["train", "--resume", str(run), "--no-progress"], "checksum mismatch")
    one_line_error(capsys, ["compress", str(run)], "checksum mismatch")


def test_hostile_state_file_is_refused_without_unsafe_advice(config, tmp_path, capsys):
    assert train_cli(str(config), "--epochs=1") == 0
    run = tmp_path / "run"
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    state = run / "checkpoint" / "state.pt"
    torch.save({"format": 1, "step": 4, "payload": Evil()}, state)
    (run / "checkpoint" / "checksums.json").unlink()  # a forger would rewrite it anyway
    err = one_line_error(
        capsys, ["train", "--resume", str(run), "--no-progress"], "not a training state acn wrote"
    )
    assert "weights_only" not in err and "posix" in err
    assert not marker.exists()


def test_copied_run_keeps_its_symlink_and_loads(config, tmp_path):
    assert train_cli(str(config), "--epochs=1") == 0
    copy = copy_run(tmp_path / "run", tmp_path / "copy")
    assert acn.load(copy).depth == 3
    assert read_state(copy)["step"] == 4


def test_full_disk_while_logging_metrics_or_the_summary(config, tmp_path, monkeypatch, capsys):
    real_open = Path.open

    def no_space_for_metrics(self, *args, **kwargs):
        # the disk fills up after the first checkpoint: the second metrics record fails
        after_first = (self.parent / "checkpoint" / "state.pt").exists()
        if self.name == "metrics.jsonl" and args[:1] == ("a",) and after_first:
            raise OSError(28, "No space left on device")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", no_space_for_metrics)
    one_line_error(
        capsys,
        ["train", str(config), "--no-progress"],
        r"cannot write .*metrics\.jsonl: No space left on device",
    )
    monkeypatch.undo()
    _assert_resumable_from_epoch_1(capsys, tmp_path / "run")


def test_full_disk_while_writing_the_summary(config, tmp_path, monkeypatch, capsys):
    def no_space(path, obj):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_files, "write_json", no_space)
    one_line_error(
        capsys,
        ["train", str(config), "--no-progress"],
        r"cannot write .*summary\.json: No space left on device",
    )
    assert read_state(tmp_path / "run")["epoch"] == 2  # the finished checkpoint is whole


def test_first_checkpoint_lost_to_a_full_disk_does_not_block_a_fresh_start(
    config, tmp_path, monkeypatch, capsys
):
    _fail_on_call(monkeypatch, torch, "save", 1, OSError(28, "No space left on device"))
    one_line_error(capsys, ["train", str(config), "--no-progress"], "cannot write checkpoint")
    monkeypatch.undo()
    run = tmp_path / "run"
    assert len(Run(run).metrics()) == 1 and not (run / "checkpoint").exists()
    one_line_error(
        capsys,
        ["train", "--resume", str(run), "--no-progress"],
        r"started afresh, without --resume",
    )
    assert train_cli(str(config)) == 0  # nothing to resume, so a fresh start may reuse the dir
    assert [r["epoch"] for r in Run(run).metrics()] == [1, 2]
