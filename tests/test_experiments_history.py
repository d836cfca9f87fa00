"""Choosing seeds, carrying earlier results as history, and the report's split by kind of claim:
on experiments whose seeds return fixed numbers (nothing is trained)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import acn.cli.reproduce as reproduce_cli
from acn.cli import main
from acn.errors import DataError
from acn.experiments.publish import load_all
from acn.experiments.report import render_report
from acn.experiments.results import read_result
from acn.experiments.runner import RunOptions, run_experiment
from acn.experiments.suite import Claim, Experiment, Rule, Scale, decide

COMMITTED = Path(__file__).resolve().parent.parent / "docs" / "results"
# per seed, the contrast the rules read: seeds 0-2 favour the claim, 3-5 do not
VALUES = {0: 1.0, 1: 1.2, 2: 0.9, 3: -1.0, 4: -1.1, 5: -0.8}
OLD_RULE = Rule("d", "greater", 0.0, describe="old")
NEW_RULE = Rule("d", "greater", 0.5, describe="new: a margin", also=(Rule("e", "less", 2.0),))


def fixed(calls: list[int] | None = None):
    def run_seed(ctx, scale, seed):
        if calls is not None:
            calls.append(seed)
        return {"arms": {"acn": {"x": VALUES[seed]}},
                "contrasts": {"d": VALUES[seed], "e": 1.0, "share": 40.0 + seed}}  # fmt: skip

    return run_seed


def experiment(rule: Rule, calls=None, kind: str = "paper", name: str = "fixed") -> Experiment:
    claim = Claim("ACN wins", "paper says 1", kind=kind,
                  figure="12 of 16 blocks (75 %)" if kind == "goal" else "",
                  figure_quantity="share" if kind == "goal" else "")  # fmt: skip
    return Experiment(name, f"Fixed {name}", claim, rule, {"smoke": Scale({}, "none")},
                      fixed(calls))  # fmt: skip


def opts(tmp_path, **kw) -> RunOptions:
    return RunOptions(**{"scale": "smoke", "seeds": 3, "out": tmp_path / "out",
                         "runs": tmp_path / "runs", **kw})  # fmt: skip


def test_seeds_start_where_asked_and_the_result_says_which_ran(tmp_path):
    calls: list[int] = []
    result = run_experiment(experiment(OLD_RULE, calls), opts(tmp_path, first_seed=3), log=None)
    assert calls == [3, 4, 5]
    assert result["seeds"] == [3, 4, 5] == [r["seed"] for r in result["per_seed"]]
    assert result["verdict"] == decide(OLD_RULE, [VALUES[s] for s in (3, 4, 5)])
    assert read_result(tmp_path / "out" / "fixed.json")["seeds"] == [3, 4, 5]
    assert result["history"] == []


def test_the_command_line_records_the_first_seed(tmp_path, monkeypatch, capsys):
    exp = experiment(OLD_RULE)
    monkeypatch.setattr(reproduce_cli, "experiments", lambda: {"fixed": exp})
    monkeypatch.setattr(reproduce_cli, "get_experiment", lambda name: exp)
    out = tmp_path / "out"
    argv = ["reproduce", "fixed", "--scale", "smoke", "--seeds", "2", "--first-seed", "4"]
    assert main([*argv, "--out", str(out), "--runs", str(tmp_path / "runs")]) == 0
    result = read_result(out / "fixed.json")
    assert result["seeds"] == [4, 5]
    assert "--seeds 2 --first-seed 4" in result["provenance"]["command"]
    capsys.readouterr()
    assert main([*argv[:-1], "-1", "--out", str(out)]) == 2
    assert "--first-seed" in capsys.readouterr().err


def test_a_changed_rule_keeps_the_old_verdict_as_history(tmp_path):
    old = run_experiment(experiment(OLD_RULE), opts(tmp_path), log=None)
    assert old["verdict"] == "holds"  # seeds 0-2 under the old rule
    new = run_experiment(experiment(NEW_RULE), opts(tmp_path, first_seed=3), log=None)
    # the new verdict is the new rule's on seeds 3-5 alone; the old one is kept as it was
    parts = [decide(p, [VALUES[s] if p.quantity == "d" else 1.0 for s in (3, 4, 5)])
             for p in (NEW_RULE, *NEW_RULE.also)]  # fmt: skip
    assert parts == ["does-not-hold", "holds"] and new["verdict"] == "partly"
    saved = read_result(tmp_path / "out" / "fixed.json")
    (entry,) = saved["history"]
    assert entry["verdict"] == "holds" and entry["seeds"] == [0, 1, 2]
    assert entry["rule"] == old["rule"] and entry["quantity"] == old["quantity"]
    assert entry["values"] == {"d": [VALUES[0], VALUES[1], VALUES[2]]}
    assert decide(OLD_RULE, entry["values"]["d"]) == entry["verdict"]  # re-checkable
    assert entry["made"]["date"] == old["provenance"]["date"]
    # a third result carries both earlier ones, oldest first; a repeat adds nothing
    run_experiment(experiment(OLD_RULE), opts(tmp_path, first_seed=3), log=None)
    again = run_experiment(experiment(OLD_RULE), opts(tmp_path, first_seed=3), log=None)
    assert [h["rule"]["describe"] for h in again["history"]] == ["old", "new: a margin"]
    assert [h["verdict"] for h in again["history"]] == ["holds", "partly"]


def test_history_is_rendered_beside_the_new_verdict(tmp_path):
    run_experiment(experiment(OLD_RULE), opts(tmp_path), log=None)
    run_experiment(experiment(NEW_RULE), opts(tmp_path, first_seed=3), log=None)
    text = render_report([read_result(tmp_path / "out" / "fixed.json")])
    assert "| **partly** (earlier, another rule: holds) |" in text
    assert "- **History** (earlier results" in text
    line = next(li for li in text.splitlines() if li.startswith("  - "))
    assert "seeds 0, 1, 2, rule `d > 0`: **holds** (d = 1.03" in line


def test_a_file_in_the_way_is_refused_before_anything_runs(tmp_path):
    calls: list[int] = []
    out = tmp_path / "out"
    out.mkdir()
    (out / "fixed.json").write_text(json.dumps({"schema": 1, "kind": "experiment"}))
    before = (out / "fixed.json").read_bytes()
    with pytest.raises(DataError, match="is not a result of `acn reproduce fixed`"):
        run_experiment(experiment(OLD_RULE, calls), opts(tmp_path), log=None)
    assert calls == [] and (out / "fixed.json").read_bytes() == before
    other = run_experiment(experiment(OLD_RULE, name="other"), opts(tmp_path), log=None)
    (out / "fixed.json").write_text(json.dumps({**other, "plots": []}))
    with pytest.raises(DataError, match="named 'other'"):
        run_experiment(experiment(OLD_RULE, calls), opts(tmp_path), log=None)


def test_a_bad_history_entry_is_one_line(tmp_path, capsys):
    run_experiment(experiment(OLD_RULE), opts(tmp_path), log=None)
    run_experiment(experiment(NEW_RULE), opts(tmp_path, first_seed=3), log=None)
    path = tmp_path / "out" / "fixed.json"
    data = json.loads(path.read_text())
    data["history"][0]["verdict"] = "surely"
    path.write_text(json.dumps(data))
    assert main(["report", "--out", str(tmp_path / "out")]) == 2
    assert "history[0].verdict must be one of" in capsys.readouterr().err


def test_the_report_keeps_paper_claims_apart_from_acn_goals(tmp_path):
    run_experiment(experiment(OLD_RULE, kind="goal", name="goal"), opts(tmp_path), log=None)
    run_experiment(experiment(OLD_RULE, name="claim"), opts(tmp_path), log=None)
    results = [read_result(tmp_path / "out" / f"{n}.json") for n in ("goal", "claim")]
    text = render_report(results)
    paper, goals = text.index("**The paper's claims**"), text.index("**acn's own goals")
    assert paper < text.index("[claim](#") < goals < text.index("[goal](#")
    assert "Beyond the paper" not in text  # no result of that kind
    row = next(li for li in text.splitlines() if li.startswith("| [goal]"))
    assert "| 12 of 16 blocks (75 %) | share = 41 +- 1 (n=3" in row
    assert "- **acn's goal (not a claim of the paper):** ACN wins" in text
    assert "- **The paper's figure it reproduces:** 12 of 16 blocks (75 %)" in text


def test_results_written_before_claims_had_a_kind_take_their_experiments_kind():
    results = dict((r["name"], r) for _, r in load_all(COMMITTED))
    kinds = {name: r["claim"]["kind"] for name, r in results.items() if r["kind"] == "experiment"}
    assert kinds["demo"] == kinds["autocut"] == "goal" and kinds["alternatives"] == "beyond"
    assert kinds["noise"] == kinds["compression"] == "paper"
