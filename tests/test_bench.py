"""``acn bench``: the machinery on unit-test sized models (--smoke) and the JSON / Markdown it
writes. Numbers are not asserted; the schema is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acn.cli import main
from acn.experiments.bench import ITEMS, extract_block, peer_models, render_markdown, summary_block
from acn.experiments.bench.context import RECORD_KEYS, BenchContext
from acn.experiments.bench.peers import compare, peer_speedup
from acn.experiments.bench.scale import get_scale

ROOT = Path(__file__).resolve().parent.parent
TOP_KEYS = {"date", "scale", "seed", "machine", "load_before", "load_after", "shared_machine"}


def check_item(item: dict, scale: str = "smoke") -> None:
    assert set(RECORD_KEYS) <= set(item)
    assert item["status"] in ("ok", "skipped")
    assert isinstance(item["summary"], str) and isinstance(item["rows"], list)
    assert item["value"] is None or isinstance(item["value"], float)
    assert item["met"] in (True, False, None)
    assert isinstance(item["wall_s"], float) and item["scale"] == scale


@pytest.mark.slow
def test_quick_bench_runs_every_item_and_writes_the_schema(tmp_path):
    """`acn bench --quick` as a user runs it (about 1.5 minutes on 2 idle cores): every item is
    measured or skipped with its reason (peers without the `bench` extra, compile at this scale)."""
    assert main(["bench", "--quick", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "benchmarks.json").read_text())
    assert TOP_KEYS | {"items", "wall_s"} <= set(data) and data["scale"] == "quick"
    assert list(data["items"]) == list(ITEMS)
    for name, item in data["items"].items():
        check_item(item, "quick")
        # these may be skipped with a reason (the peers and the gpt-vs-HF items need .[bench])
        if name not in ("peer_speedup", "compile_speedup", "lm_train_step", "generate"):
            assert item["status"] == "ok" and item["rows"], name
    md = (tmp_path / "BENCHMARKS.md").read_text()
    assert extract_block(md) == summary_block(data)


def test_smoke_run_writes_json_and_markdown(tmp_path):
    only = ["probe_overhead_ratio"]
    args = ["bench", "--smoke", "--threads", "1", "--out", str(tmp_path)]
    assert main(args + [a for name in only for a in ("--only", name)]) == 0
    data = json.loads((tmp_path / "benchmarks.json").read_text())
    assert TOP_KEYS | {"items", "wall_s"} <= set(data)
    assert {"cpu", "torch", "torch_threads", "cpu_count"} <= set(data["machine"])
    assert len(data["load_before"]) == 3 and isinstance(data["shared_machine"], bool)
    assert list(data["items"]) == only
    for item in data["items"].values():
        check_item(item)
        assert item["status"] == "ok" and item["rows"]
    row = data["items"]["probe_overhead_ratio"]["rows"][0]
    assert {"model", "forward_ms", "per_depth_ms", "ratio"} <= set(row)
    md = (tmp_path / "BENCHMARKS.md").read_text()
    assert extract_block(md) == summary_block(data) and "## `probe_overhead_ratio`" in md

    # a second --only run keeps the items already recorded
    assert main(["bench", "--smoke", "--only", "mfu", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "benchmarks.json").read_text())
    assert list(data["items"]) == [*only, "mfu"]
    assert set(data["items"]["mfu"]["profile"]["mixer_s8"]) >= {"matmuls", "optimizer", "data"}


def test_unknown_item_is_a_one_line_error(tmp_path, capsys):
    assert main(["bench", "--smoke", "--only", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("acn: error: argument --only: invalid choice") and err.count("\n") == 1
    assert not (tmp_path / "benchmarks.json").exists()


def test_missing_peer_is_skipped_not_a_crash(tmp_path, monkeypatch):
    def missing():
        raise peer_models.PeerMissing("not installed here")

    ctx = BenchContext(get_scale("smoke"), log=lambda line: None)
    row = compare(ctx, "vit", lambda: None, missing, 4)
    assert row == {"family": "vit", "status": "skipped", "reason": "not installed here"}
    monkeypatch.setattr(peer_models, "REFERENCE_MIXER", tmp_path / "absent.py")
    with pytest.raises(peer_models.PeerMissing):
        peer_models.reference_mixer()
    monkeypatch.setattr(
        "acn.experiments.bench.peers._pairs", lambda ctx: {"vit": (None, missing, 4)}
    )
    item = peer_speedup(ctx)
    assert item["status"] == "skipped" and "not installed here" in item["summary"]


def test_every_item_is_listed_in_the_help():
    assert set(ITEMS) >= {
        "train_step_ratio", "peak_memory_ratio", "probe_overhead_ratio",
        "deploy_speedup_vs_flops", "early_exit_speedup", "mfu", "peer_speedup",
    }  # fmt: skip


def test_readme_table_is_the_generated_one():
    """README's benchmark table is copied from docs/results/BENCHMARKS.md, never typed."""
    results = ROOT / "docs" / "results"
    data = json.loads((results / "benchmarks.json").read_text())
    md = (results / "BENCHMARKS.md").read_text()
    assert md == render_markdown(data)
    assert extract_block((ROOT / "README.md").read_text()) == extract_block(md)
