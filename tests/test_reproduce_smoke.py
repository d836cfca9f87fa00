"""CI: every experiment runs end to end at smoke scale, on data the package ships or writes (no
data root, ``$ACN_DATA`` unset), and writes a result of the one schema that ``acn report``
renders; ``--redecide`` on it changes nothing."""

from __future__ import annotations

import json

from acn.cli import main
from acn.experiments.catalog import experiments
from acn.experiments.recipes import ENV_DATA, datasets_in
from acn.experiments.results import read_result
from acn.experiments.suite import VERDICTS


def test_every_experiment_at_smoke_scale(tmp_path, monkeypatch, capsys):
    """All experiments, 2 seeds, one shared runs directory (as `acn reproduce all`: experiments
    on the same recipe share their runs, which keeps this test short)."""
    monkeypatch.delenv(ENV_DATA, raising=False)
    monkeypatch.chdir(tmp_path)  # nothing beside it: no ../shared, no data root
    registered = experiments()
    assert {"compression", "gradients", "difficulty", "noise", "lowdata", "bert"} <= set(registered)
    assert not any(datasets_in(e.scales["smoke"].params) for e in registered.values())
    assert main(["reproduce", "all", "--scale", "smoke", "--seeds", "2"]) == 0
    out = tmp_path / "runs" / "results"  # the default --out: never docs/results
    for name, exp in registered.items():
        result = read_result(out / f"{name}.json")  # every field the report reads, checked
        assert result["name"] == name and result["seeds"] == [0, 1], name
        assert result["verdict"] in VERDICTS and result["claim"]["paper"] == exp.claim.paper
        for row in result["per_seed"]:
            assert isinstance(row["contrasts"][exp.rule.quantity], (int, float)), name
            assert row["arms"], name
        assert result["provenance"]["command"].startswith("acn reproduce all --scale smoke")
        for plot in result["plots"]:
            assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", (name, plot)
    before = {p: p.read_bytes() for p in out.glob("*.json")}
    assert main(["reproduce", "all", "--scale", "smoke", "--redecide"]) == 0
    assert before == {p: p.read_bytes() for p in out.glob("*.json")}
    capsys.readouterr()
    assert main(["report", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert len(found["results"]) == len(registered)
    assert (out / "REPORT.md").read_text().count("\n## ") == len(registered)


def test_list_names_every_experiment(capsys):
    assert main(["reproduce", "--list"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in experiments())
