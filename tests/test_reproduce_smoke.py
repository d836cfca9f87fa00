"""CI: every registered experiment runs end to end at smoke scale and writes a valid result."""

from __future__ import annotations

import json

from acn.cli import main
from acn.experiments.catalog import experiments
from acn.experiments.report import write_report
from acn.experiments.suite import VERDICTS

SCHEMA = {
    "experiment": str, "title": str, "scale": str, "seeds": list, "hardware": dict, "torch": str,
    "wall_time_s": float, "per_seed": list, "summary_numbers": dict, "claim": dict, "rule": dict,
    "verdict": str, "summary": str, "changes": str, "plots": list,
}  # fmt: skip


def test_every_experiment_at_smoke_scale(tmp_path):
    """All registered experiments, 2 seeds, one shared runs directory (as `acn reproduce all`:
    experiments on the same recipe share their runs, which keeps this test short)."""
    out, runs = tmp_path / "results", tmp_path / "runs"
    registered = experiments()
    assert {"compression", "gradients", "difficulty", "noise", "lowdata"} <= set(registered)
    args = ["reproduce", "all", "--scale", "smoke", "--seeds", "2", "--out", str(out)]
    assert main([*args, "--runs", str(runs)]) == 0
    for name, exp in registered.items():
        result = json.loads((out / f"{name}.json").read_text())
        for key, kind in SCHEMA.items():
            assert isinstance(result[key], kind), (name, key)
        assert result["experiment"] == name and result["seeds"] == [0, 1], name
        assert result["verdict"] in VERDICTS and result["claim"]["paper"] == exp.claim.paper
        assert all(isinstance(r[exp.rule.quantity], (int, float)) for r in result["per_seed"])
        for plot in result["plots"]:
            assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", (name, plot)
    assert write_report(out).read_text().count("## ") == len(registered)


def test_list_names_every_experiment(capsys):
    assert main(["reproduce", "--list"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in experiments())
