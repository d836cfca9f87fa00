"""``acn bench``: the machinery on unit-test sized models (--smoke) and the JSON / Markdown it
writes. Numbers are not asserted; the schema is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import acn.experiments.bench.runner as bench_runner
from acn.cli import main
from acn.experiments.bench import ITEMS, extract_block, peer_models, render_markdown, summary_block
from acn.experiments.bench.context import RECORD_KEYS, BenchContext
from acn.experiments.bench.peers import compare, peer_speedup
from acn.experiments.bench.scale import get_scale
from acn.experiments.results import read_result

ROOT = Path(__file__).resolve().parent.parent
TOP_KEYS = {"schema", "kind", "name", "title", "provenance", "scale", "seed", "shared_machine"}


def check_item(item: dict, scale: str = "smoke") -> None:
    assert set(RECORD_KEYS) <= set(item)
    assert item["status"] in ("ok", "skipped")
    assert isinstance(item["summary"], str) and isinstance(item["rows"], list)
    assert item["value"] is None or isinstance(item["value"], float)
    assert item["met"] in (True, False, None)
    assert isinstance(item["wall_s"], float) and item["scale"] == scale


@pytest.mark.slow
def test_quick_bench_runs_every_item_and_writes_the_schema(tmp_path):
    """`acn bench --scale quick` as a user runs it (about 1.5 minutes on 2 idle cores): every item is
    measured or skipped with its reason (peers without the `bench` extra, compile at this scale)."""
    assert main(["bench", "--scale", "quick", "--out", str(tmp_path)]) == 0
    data = read_result(tmp_path / "benchmarks.json")
    assert TOP_KEYS | {"items"} <= set(data) and data["scale"] == "quick"
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
    args = ["bench", "--scale", "smoke", "--threads", "1", "--out", str(tmp_path)]
    assert main(args + [a for name in only for a in ("--only", name)]) == 0
    data = read_result(tmp_path / "benchmarks.json")  # the one result schema, checked
    assert TOP_KEYS | {"items"} <= set(data) and data["kind"] == "bench"
    provenance = data["provenance"]
    assert {"cpu", "torch", "torch_threads", "cpu_count"} <= set(provenance["machine"])
    assert len(provenance["load_average"]["start"]) == 3 and isinstance(
        data["shared_machine"], bool
    )
    assert provenance["command"].startswith("acn bench --scale smoke") and provenance["versions"]
    assert list(data["items"]) == only
    for item in data["items"].values():
        check_item(item)
        assert item["status"] == "ok" and item["rows"]
    row = data["items"]["probe_overhead_ratio"]["rows"][0]
    assert {"model", "forward_ms", "per_depth_ms", "ratio"} <= set(row)
    md = (tmp_path / "BENCHMARKS.md").read_text()
    assert extract_block(md) == summary_block(data) and "## `probe_overhead_ratio`" in md

    # a second --only run keeps the items already recorded
    assert main(["bench", "--scale", "smoke", "--only", "mfu", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "benchmarks.json").read_text())
    assert list(data["items"]) == [*only, "mfu"]
    assert set(data["items"]["mfu"]["profile"]["mixer_s8"]) >= {"matmuls", "optimizer", "data"}


def test_unknown_item_is_a_one_line_error(tmp_path, capsys):
    assert main(["bench", "--scale", "smoke", "--only", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("acn: error: argument --only: invalid choice") and err.count("\n") == 1
    assert not (tmp_path / "benchmarks.json").exists()


def test_missing_peer_is_skipped_not_a_crash(tmp_path, monkeypatch):
    def missing():
        raise peer_models.PeerMissing("not installed here")

    ctx = BenchContext(get_scale("smoke"), log=lambda line: None)
    row = compare(ctx, "vit", lambda: None, missing, 4)
    assert row == {"family": "vit", "status": "skipped", "reason": "not installed here"}
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


def test_the_authors_mixer_ships_with_the_package():
    """The peer reference is imported from the package, not read from a source checkout."""
    model, described = peer_models.reference_mixer()
    assert model.__module__ == "acn.experiments.bench.reference_mixer"
    assert "acn.experiments.bench.reference_mixer" in described
    assert sum(p.numel() for p in model.parameters()) > 0


def test_committed_benchmarks_render_as_committed():
    """BENCHMARKS.md is what the committed result renders, and the README shows its block."""
    results = ROOT / "docs" / "results"
    data = read_result(results / "benchmarks.json")
    md = (results / "BENCHMARKS.md").read_text()
    assert md == render_markdown(data)
    assert extract_block((ROOT / "README.md").read_text()) == extract_block(md)


def no_run(*args, **kwargs):
    pytest.fail("an item ran before the bad input was refused")


BAD_FILES = {
    "a list": "[1, 2]",
    "items a list": json.dumps({"schema": 1, "kind": "bench", "items": []}),
    "garbage items": None,  # the committed result with one item replaced by a number
    "not JSON": "{not json",
    "deeply nested": "[" * 200_000 + "]" * 200_000,
    "invalid UTF-8": b"\xff\xfe{}",
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_only_over_a_malformed_existing_result_is_refused_untouched(tmp_path, monkeypatch, capsys,
                                                                     case):  # fmt: skip
    path = tmp_path / "benchmarks.json"
    content = BAD_FILES[case]
    if content is None:
        data = json.loads((ROOT / "docs" / "results" / "benchmarks.json").read_text())
        data["items"]["mfu"] = 5
        content = json.dumps(data)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = path.read_bytes()
    monkeypatch.setattr(bench_runner, "run_item", no_run)
    assert main(["bench", "--scale", "smoke", "--only", "mfu", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("acn: error: ") and err.count("\n") == 1 and "benchmarks.json" in err
    assert path.read_bytes() == before and not (tmp_path / "BENCHMARKS.md").exists()


@pytest.mark.parametrize("case", ["missing", "no markers", "invalid UTF-8", "no end marker"])
def test_update_readme_checks_the_readme_before_the_run(tmp_path, monkeypatch, capsys, case):
    readme = tmp_path / "README.md"
    content = {
        "missing": None,
        "no markers": b"# a README without the block\n",
        "invalid UTF-8": b"<!-- bench-summary:begin -->\n\xff\n<!-- bench-summary:end -->\n",
        "no end marker": b"<!-- bench-summary:begin -->\nold table\n",
    }[case]
    if content is not None:
        readme.write_bytes(content)
    monkeypatch.setattr(bench_runner, "run_item", no_run)
    out = tmp_path / "out"
    args = [
        "bench",
        "--scale",
        "smoke",
        "--only",
        "mfu",
        "--out",
        str(out),
        "--update-readme",
        str(readme),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("acn: error: ") and err.count("\n") == 1 and "README" in err
    assert not out.exists()
    assert (readme.read_bytes() if content is not None else None) == content


def test_update_readme_rewrites_only_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench-summary:begin -->\nold\n<!-- bench-summary:end -->\nend\n")
    out = tmp_path / "out"
    args = ["bench", "--scale", "smoke", "--only", "probe_overhead_ratio", "--out", str(out)]
    assert main([*args, "--update-readme", str(readme)]) == 0
    data = read_result(out / "benchmarks.json")
    assert readme.read_text() == f"intro\n{summary_block(data)}\nend\n"


def test_a_run_that_is_not_a_finished_run_is_refused_before_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench_runner, "run_item", no_run)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "summary.json").write_text("[1, 2]")
    out = tmp_path / "out"
    for run in (tmp_path / "absent", tmp_path / "run"):
        args = ["bench", "--scale", "smoke", "--only", "deploy_speedup_vs_flops", "--run", str(run)]
        assert main([*args, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("acn: error: ") and err.count("\n") == 1 and str(run) in err
    assert not out.exists()
