"""CI: every registered experiment runs end to end at smoke scale and writes a valid result."""

from __future__ import annotations

import json

import pytest

from acn.cli import main
from acn.experiments.catalog import experiments
from acn.experiments.suite import VERDICTS

SCHEMA = {
    "experiment": str, "title": str, "scale": str, "seeds": list, "hardware": dict, "torch": str,
    "wall_time_s": float, "per_seed": list, "summary_numbers": dict, "claim": dict, "rule": dict,
    "verdict": str, "summary": str, "changes": str, "plots": list,
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(experiments()))
def test_experiment_at_smoke_scale(name, tmp_path, capsys):
    out, runs = tmp_path / "results", tmp_path / "runs"
    args = ["reproduce", name, "--scale", "smoke", "--seeds", "2", "--out", str(out)]
    assert main([*args, "--runs", str(runs)]) == 0
    result = json.loads((out / f"{name}.json").read_text())
    for key, kind in SCHEMA.items():
        assert isinstance(result[key], kind), key
    exp = experiments()[name]
    assert result["experiment"] == name and result["seeds"] == [0, 1]
    assert result["verdict"] in VERDICTS and result["claim"]["paper"] == exp.claim.paper
    assert all(exp.rule.quantity in r for r in result["per_seed"])
    for plot in result["plots"]:
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_list_names_every_experiment(capsys):
    assert main(["reproduce", "--list"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in experiments())
