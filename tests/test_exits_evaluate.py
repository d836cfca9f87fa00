"""One early-exit configuration measured end to end on a trained run, and its written report."""

from __future__ import annotations

import csv
import json

import pytest
import torch

import acn
from acn.compress.flops import flops_per_depth
from acn.errors import ConfigError, DataError
from acn.evaluation.cutoff import cutoff_depth
from acn.exits import (
    ExitEvalConfig,
    ExitPolicy,
    early_exit_predict,
    evaluate_exits,
    format_table,
    plan_exits,
    write_reports,
)
from acn.exits.splits import load_exit_splits, split_validation

QUICK = dict(latency_samples=4, warmup=0, repeats=1, batch_size=8)


@pytest.fixture(scope="module")
def branch_run(tmp_path_factory, tiny_runs):
    run = tiny_runs.copy("exits-branches", tmp_path_factory.mktemp("exits"))
    model = acn.load(run)
    val, test, _ = load_exit_splits(model, run)
    return model, val, test


def test_report_is_what_the_real_path_does(branch_run):
    model, val, test = branch_run
    report = evaluate_exits(model, val, test, ExitEvalConfig(heads="branches", **QUICK))
    assert report.exits == ["b1", "b2", "h3"] and report.calibrated
    assert report.validation.accuracy >= report.validation_full_accuracy - 0.5
    real = early_exit_predict(
        model, test.x, ExitPolicy(report.policy, report.tau), plan_exits(model, "branches")
    )
    accuracy = float((real.prediction == test.y).float().mean() * 100)
    assert report.test.accuracy == pytest.approx(accuracy)
    counts = torch.bincount(real.exit_index, minlength=3) / len(test)
    assert report.test.histogram == pytest.approx(counts.tolist())
    assert report.test.speedup == pytest.approx(
        report.reference_flops
        / sum(f * c for f, c in zip(report.test.histogram, report.exit_flops))
    )
    assert [w.batch_size for w in report.wall] == [1, 8]
    assert all(w.full_s > 0 and w.exit_s > 0 for w in report.wall)
    assert report.machine["device"] == "cpu"
    assert len(report.sweep) == 201


def test_global_cutoff(branch_run):
    model, val, test = branch_run
    report = evaluate_exits(model, val, test, ExitEvalConfig(heads="final", timing=False))
    with torch.no_grad():
        val_acc = (model.logits_per_depth(val.x).argmax(-1) == val.y).float().mean(1) * 100
    k = cutoff_depth(val_acc.tolist(), 0.5)
    assert report.policy == "cutoff" and report.tau == k and report.exits == [f"h{k}"]
    assert report.test.speedup == pytest.approx(report.reference_flops / flops_per_depth(model)[k])
    assert [row["tau"] for row in report.sweep] == list(range(model.depth + 1))
    given = evaluate_exits(model, val, test, ExitEvalConfig(heads="final", tau=1, timing=False))
    assert given.exits == ["h1"] and not given.calibrated


def test_same_inputs_same_report(branch_run):
    model, val, test = branch_run
    cfg = ExitEvalConfig(heads="shared", policy="maxprob", timing=False)
    a = evaluate_exits(model, val, test, cfg).to_dict()
    b = evaluate_exits(model, val, test, cfg).to_dict()
    assert a == b


def test_written_report(branch_run, tmp_path):
    model, val, test = branch_run
    reports = [
        evaluate_exits(model, val, test, ExitEvalConfig(heads=h, **QUICK), name=f"m-{h}")
        for h in ("branches", "final")
    ]
    text = format_table(reports, large_batch=8)
    assert "m-branches" in text and "wall x b8" in text and "cutoff" in text
    paths = write_reports(reports, tmp_path / "out")
    assert {p.name for p in paths} == {
        "exit_report.json", "sweep_0_m-branches.csv", "sweep_1_m-final.csv", "sweep.png"
    }  # fmt: skip
    saved = json.loads((tmp_path / "out" / "exit_report.json").read_text())
    assert saved[0]["test"]["accuracy"] == reports[0].test.accuracy
    assert saved[0]["wall"][0]["speedup"] == reports[0].wall[0].speedup
    rows = list(csv.DictReader((tmp_path / "out" / "sweep_1_m-final.csv").open()))
    assert [float(r["tau"]) for r in rows] == list(range(model.depth + 1))
    assert (tmp_path / "out" / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_validation_halves_are_stratified_and_fixed():
    x = torch.arange(40.0)[:, None]
    y = torch.arange(40) % 4
    val, test = split_validation(x, y, seed=0)
    assert len(val) == len(test) == 20
    assert torch.bincount(val.y).tolist() == [5, 5, 5, 5]
    assert not set(val.x.flatten().tolist()) & set(test.x.flatten().tolist())
    again, _ = split_validation(x, y, seed=0)
    assert torch.equal(again.x, val.x)
    with pytest.raises(DataError, match="at least 2 test samples"):
        split_validation(x[:1], y[:1])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"heads": "all"}, "unknown exit heads"),
        ({"policy": "depth"}, "unknown exit policy"),
        ({"target_drop": float("nan")}, "target drop"),
        ({"repeats": 0}, "must be >= 1"),
    ],
)
def test_bad_evaluation_options_are_config_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        ExitEvalConfig(**change)
