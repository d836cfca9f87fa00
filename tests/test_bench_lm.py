"""``acn bench`` items for language models, at the smoke scale: the schema, and that the
Hugging Face twin decodes the same tokens as ours (the comparison is of equal work)."""

from __future__ import annotations

import json

import pytest

from acn.cli import main
from test_bench import check_item

pytest.importorskip("transformers")


def test_lm_items_write_their_rows(tmp_path):
    args = ["bench", "--scale", "smoke", "--threads", "1", "--out", str(tmp_path)]
    assert main([*args, "--only", "lm_train_step", "--only", "generate"]) == 0
    items = json.loads((tmp_path / "benchmarks.json").read_text())["items"]
    for name in ("lm_train_step", "generate"):
        check_item(items[name])
        assert items[name]["status"] == "ok" and items[name]["rows"]
    step = items["lm_train_step"]["rows"][0]
    assert step["params_acn"] == step["params_hf"]  # equal shapes, tied head counted once
    assert {"speedup_vs_hf", "acn_over_residual", "memory_acn_over_residual"} <= set(step)
    rows = items["generate"]["rows"]
    assert [r["batch"] for r in rows] == [1, 8]
    assert all(r["same_tokens_as_hf"] for r in rows)  # same weights, same greedy tokens
    assert "self_speculative_over_plain" in rows[0]
