"""ONNX export (dynamo exporter + ONNX Runtime) of every family, cut and all-depths, against eager
PyTorch within 1e-4 (float32). Needs the `export` extra (CI installs it)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import acn
from _export_helpers import FAMILY_PRESETS, block_indices, tiny
from acn.cli import main
from acn.export import export_model


def onnx_params(path) -> tuple[int, set[int]]:
    """Elements in the file's initializers, and the block numbers named among them."""
    graph = onnx.load(str(path)).graph
    sizes = [int(np.prod(t.dims)) if len(t.dims) else 1 for t in graph.initializer]
    return sum(sizes), block_indices(t.name for t in graph.initializer)


def ort_run(path, *args: torch.Tensor) -> torch.Tensor:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: a.numpy() for i, a in zip(sess.get_inputs(), args)}
    return torch.from_numpy(sess.run(None, feeds)[0])


@pytest.mark.parametrize("name", FAMILY_PRESETS)
def test_cut_model_matches_eager_and_holds_only_its_blocks(name, tmp_path):
    model = tiny(name, depth=2)
    with torch.no_grad():  # distinct values everywhere, so the exporter merges no constants
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    result = export_model(model, tmp_path / "m.onnx", "onnx", depth=1)
    assert result.parity.max_abs_diff <= 1e-4 and result.parity.top1_agreement == 1.0
    small = model.truncate(1)
    elements, blocks = onnx_params(result.path)
    assert blocks <= {0}
    # every weight of the kept block once (plus a few shape constants), none of the dropped one
    one_block = sum(p.numel() for p in model.stack.blocks[1].parameters())
    assert small.num_params() <= elements < small.num_params() + min(one_block, 64)
    # another batch size; for text a shorter sequence with padding, mask as an input
    x = small.example_input(5)
    args = (x,)
    if name.startswith("bert"):
        x = x[:, :6].clone()
        x[2, 3:] = small.config.pad_id
        args = (x, (x != small.config.pad_id).long())
        assert [i.name for i in onnx.load(str(result.path)).graph.input] == [
            "input_ids",
            "attention_mask",
        ]
    with torch.no_grad():
        want = small(x)
    torch.testing.assert_close(ort_run(result.path, *args), want, atol=1e-4, rtol=0)


def test_command_all_depths_from_a_model_file(tmp_path, capsys):
    model = tiny("mlp_s4", "acn", depth=2)
    file = acn.save(model, tmp_path / "mlp.safetensors")
    assert main(["export", str(file), "--format", "onnx", "--all-depths"]) == 0
    out = tmp_path / "mlp-export" / "model.d2-all.onnx"
    text = capsys.readouterr().out
    assert "logits at every depth 0..2" in text and "64 example inputs" in text
    x = model.example_input(3)
    with torch.no_grad():
        want = model.logits_per_depth(x)
    torch.testing.assert_close(ort_run(out, x), want, atol=1e-4, rtol=0)
