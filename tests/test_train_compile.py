"""``compile: true`` compiles the model's forward in place (opt-in; off by default)."""

from __future__ import annotations

import torch

from _train_helpers import tiny_config
from acn.train import train


def test_compile_flag_compiles_the_model_in_place(tmp_path, monkeypatch):
    compiled = []
    # record the call instead of compiling (compiling takes minutes on a busy CPU)
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: compiled.append(self))
    result = train(tiny_config(tmp_path, "--compile=true", "--epochs=1"), log=None)
    assert compiled == [result.model]
    assert train(tiny_config(tmp_path, "--epochs=1", name="eager"), log=None).model not in compiled
    assert "compile: true" in (tmp_path / "run" / "config.yaml").read_text()
