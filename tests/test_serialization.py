"""Model files: atomic writes, run-directory resolution, corrupt and foreign files."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

import acn
from acn.errors import CheckpointError
from acn.models import tiny_overrides
from acn.utils import atomic_write


def _model():
    torch.manual_seed(0)
    return acn.create_model("mlp_s4", **tiny_overrides("mlp_s4"))


def test_load_from_run_directory(tmp_path):
    model = _model()
    acn.save(model, tmp_path / "checkpoint" / "model.safetensors")
    loaded = acn.load(tmp_path)
    x = model.example_input(2)
    torch.testing.assert_close(loaded(x), model.eval()(x))


def test_truncated_model_saves_and_loads_as_its_own_size(tmp_path):
    small = _model().truncate(1)
    loaded = acn.load(acn.save(small, tmp_path / "small.safetensors"))
    assert loaded.depth == 1 and loaded.num_params() == small.num_params()


def test_missing_corrupt_truncated_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        acn.load(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        acn.load(tmp_path)
    path = acn.save(_model(), tmp_path / "m.safetensors")
    data = path.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="trunc.safetensors"):
        acn.load(tmp_path / "trunc.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="junk.safetensors"):
        acn.load(tmp_path / "junk.safetensors")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(CheckpointError, match="not an acn model file"):
        acn.load(tmp_path / "foreign.safetensors")


def test_atomic_write_keeps_old_file_when_writer_crashes(tmp_path):
    path = acn.save(_model(), tmp_path / "m.safetensors")
    before = path.read_bytes()

    def crash(tmp):
        with open(tmp, "wb") as f:
            f.write(b"partial")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(path, crash)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_atomic_write_respects_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        path = acn.save(_model(), tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
