"""Exporting gpt models: the logits graph over a dynamic sequence length, the key/value-cache
decoding step (decoding with the exported file == a full eager forward), both formats, and the
tokenizer travelling inside the file."""

from __future__ import annotations

import json

import pytest
import torch

from _export_helpers import tiny
from acn.data.lm_tokenizer import TextTokenizer
from acn.errors import ConfigError
from acn.export import export_model, to_onnx, to_pt2
from acn.export.kv_step import KVStepGraph, cache_shape

TOKENIZER = TextTokenizer.train_char("abcdefghijklmnopqrstuvwxyz .,;:!?'\nABCDEFGHIJKLMNOPQRSTUVW")


def gpt(mode: str = "acn", positions: str = "learned", depth: int = 3):
    model = tiny("gpt_char", mode, depth=depth, positions=positions)
    model.pretrained_cfg = {"tokenizer": TOKENIZER.to_json(), "eos_token_id": None}
    return model


def _metadata(path, fmt):
    if fmt == "onnx":
        return to_onnx.read_metadata(str(path))
    return to_pt2.read_metadata(str(path), ["family", "config", "pretrained_cfg"])


@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
@pytest.mark.parametrize(("mode", "positions"), [("residual", "learned"), ("acn", "rotary")])
def test_logits_graph_takes_any_length_and_carries_the_tokenizer(fmt, mode, positions, tmp_path):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    model = gpt(mode, positions)
    result = export_model(model, tmp_path / f"m.{fmt}", fmt, depth=2)
    assert result.parity.max_abs_diff <= 1e-4 and result.parity.top1_agreement == 1.0
    run = (to_onnx if fmt == "onnx" else to_pt2).load(str(result.path))
    small = model.truncate(2)
    for length in (1, 5, 16):
        x = torch.randint(0, 50, (3, length), generator=torch.Generator().manual_seed(length))
        with torch.no_grad():
            want = small(x)
        torch.testing.assert_close(run(x, torch.ones_like(x))[0], want, atol=1e-4, rtol=0)
    meta = _metadata(result.path, fmt)
    assert json.loads(meta["config"])["depth"] == 2 and meta["family"] == "gpt"
    tok = TextTokenizer.from_json(json.loads(meta["pretrained_cfg"])["tokenizer"])
    assert tok.to_json() == TOKENIZER.to_json()
    assert tok.decode(tok.encode("Hello, world!")) == "Hello, world!"


@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
@pytest.mark.parametrize(("mode", "positions"), [("residual", "learned"), ("densenet", "rotary")])
def test_kv_step_decodes_as_the_full_forward(fmt, mode, positions, tmp_path):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    model = gpt(mode, positions)
    result = export_model(model, tmp_path / f"kv.{fmt}", fmt, kv_cache=True)
    assert result.kv_cache and result.parity.max_abs_diff <= 1e-4
    step = (to_onnx if fmt == "onnx" else to_pt2).load(str(result.path))
    # decode 2 rows from a prompt of 3 tokens, 1 to 4 tokens per step, against the full forward
    seq = torch.randint(0, 50, (2, 14), generator=torch.Generator().manual_seed(0))
    keys = torch.zeros(cache_shape(model, 2))
    values = keys.clone()
    done, got = 0, []
    for t in (3, 1, 4, 2, 1, 3):
        logits, keys, values = step(seq[:, done : done + t], torch.tensor(done), keys, values)
        got.append(logits)
        done += t
    with torch.no_grad():
        want = model(seq)
    torch.testing.assert_close(torch.cat(got, dim=1), want, atol=1e-4, rtol=0)
    # the same graph in eager PyTorch (no exporter): the oracle is again the full forward
    with torch.no_grad():
        eager, _, _ = KVStepGraph(model)(seq, torch.tensor(0), torch.zeros_like(keys), keys * 0)
    torch.testing.assert_close(eager, want, atol=1e-5, rtol=0)


def test_kv_step_refuses_all_depths(tmp_path):
    with pytest.raises(ConfigError, match="one depth"):
        export_model(gpt(), tmp_path / "x.pt2", "pt2", kv_cache=True, all_depths=True)
    assert not list(tmp_path.iterdir())
