"""init_from: a run starts from another run's weights (names and shapes that match)."""

from __future__ import annotations

import pytest
import torch

import acn
from _train_helpers import tiny_config
from acn.errors import CheckpointError
from acn.models import tiny_overrides
from acn.serialization import load, load_matching, save
from acn.train import train


def test_fine_tune_copies_the_body_and_keeps_a_fresh_head(tmp_path):
    first = train(tiny_config(tmp_path, "--epochs=1", name="up"), progress=False, log=None)
    cfg = tiny_config(tmp_path, "--epochs=1", "--data.classes=2", name="down")
    cfg.init_from = str(first.run_dir)
    before = load(first.run_dir)
    model = acn.create_model("mixer_s8", "acn", num_classes=2, **_tiny(cfg))
    copied, fresh = load_matching(model, first.run_dir)
    assert "head.weight" in fresh and any(k.startswith("stack.blocks.") for k in copied)
    for name in copied:
        assert torch.equal(model.state_dict()[name], before.state_dict()[name])
    lines: list[str] = []
    result = train(cfg, progress=False, log=lines.append)  # trains with the 2-class head
    assert result.model.config.num_classes == 2
    assert any(line.startswith("initialised from") and "head.weight" in line for line in lines)


def test_skipped_prefixes_keep_their_fresh_values(tmp_path):
    torch.manual_seed(0)
    a = acn.create_model("mixer_s8", "acn", **tiny_overrides("mixer_s8"))
    path = save(a, tmp_path / "a.safetensors")
    torch.manual_seed(1)
    b = acn.create_model("mixer_s8", "acn", **tiny_overrides("mixer_s8"))
    head = b.head.weight.detach().clone()
    copied, fresh = load_matching(b, path, skip=["head."])
    assert "head.weight" in fresh and "head.weight" not in copied
    assert torch.equal(b.head.weight, head)
    sa, sb = a.state_dict(), b.state_dict()
    assert any(k.startswith("stack.") for k in copied)
    assert all(torch.equal(sa[k], sb[k]) for k in copied)


def test_a_file_sharing_no_blocks_is_refused(tmp_path):
    other = acn.create_model("mlp_s4", "acn", **tiny_overrides("mlp_s4"))
    path = save(other, tmp_path / "mlp.safetensors")
    mixer = acn.create_model("mixer_s8", "acn", **tiny_overrides("mixer_s8"))
    with pytest.raises(CheckpointError, match="shares no block weights"):
        load_matching(mixer, path)


def _tiny(cfg):
    return dict(cfg.model.overrides)
