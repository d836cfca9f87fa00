"""The reproduce suite: t-intervals and verdict rules on synthetic numbers, the runner (resume,
dry run, JSON) on a toy experiment, and REPORT.md from result files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import acn.experiments.context as context
from _train_helpers import tiny_config
from acn.errors import ConfigError, DataError
from acn.experiments.report import headline_rows, load_results, render_report, write_report
from acn.experiments.runner import RunOptions, redecide, run_experiment
from acn.experiments.suite import (
    Claim,
    Experiment,
    Rule,
    Scale,
    combine,
    decide,
    decide_claim,
    interval,
    summary_sentence,
    t975,
)

GREATER = Rule(quantity="d", direction="greater", threshold=0.0)
LESS = Rule(quantity="d", direction="less", threshold=1.0)


def test_t_quantiles():
    assert t975(1) == pytest.approx(12.706) and t975(2) == pytest.approx(4.303)
    assert t975(31) == pytest.approx(2.0395, abs=2e-4) and t975(1000) == pytest.approx(
        1.9623, abs=2e-4
    )
    with pytest.raises(ValueError):
        t975(0)


def test_interval_matches_hand_computation():
    iv = interval([1.0, 2.0, 3.0])
    assert iv.mean == 2.0 and iv.std == pytest.approx(1.0)
    half = 4.303 / math.sqrt(3)
    assert (iv.low, iv.high) == pytest.approx((2 - half, 2 + half))
    one = interval([5.0])
    assert one.std is None and one.low is None


@pytest.mark.parametrize(
    "values, verdict",
    [
        ([1.0, 1.2, 0.9], "holds"),  # interval entirely above 0
        ([-1.0, -1.2, -0.9], "does-not-hold"),  # entirely below
        ([2.0, -1.0, 1.5], "partly"),  # straddles 0, mean above
        ([-2.0, 1.0, -1.5], "inconclusive"),  # straddles 0, mean below
        ([3.0], "inconclusive"),  # one seed: no interval
        ([1.0, float("nan"), 1.0], "inconclusive"),
        ([1.0, None], "inconclusive"),
        ([0.0, 0.0, 0.0], "inconclusive"),  # exactly on the threshold
    ],
)
def test_greater_rule(values, verdict):
    assert decide(GREATER, values) == verdict


@pytest.mark.parametrize(
    "values, verdict",
    [
        ([0.5, 0.4, 0.6], "holds"),  # below the threshold 1.0, as the paper claims
        ([1.5, 1.4, 1.6], "does-not-hold"),
        ([0.0, 2.5, 0.2], "partly"),  # mean 0.9 < 1 but the interval straddles 1
        ([2.0, -0.5, 2.2], "inconclusive"),  # straddles, mean 1.23 on the wrong side
    ],
)
def test_less_rule_is_the_mirror(values, verdict):
    assert decide(LESS, values) == verdict
    mirrored = Rule(quantity="d", direction="greater", threshold=-1.0)
    assert decide(mirrored, [-v for v in values]) == verdict


def test_custom_verdict_and_bad_rules():
    rule = Rule(
        "d", "greater", verdict_fn=lambda v: "holds" if sum(x > 0 for x in v) >= 4 else "partly"
    )
    assert decide(rule, [1, 1, 1, 1, -1]) == "holds"
    assert decide(rule, [1, 1, -1, -1, -1]) == "partly"
    with pytest.raises(ConfigError):
        decide(Rule("d", "greater", verdict_fn=lambda v: "yes"), [1.0, 2.0])
    with pytest.raises(ConfigError):
        Rule("d", "bigger")


@pytest.mark.parametrize(
    "parts, verdict",
    [
        (["holds", "holds"], "holds"),
        (["does-not-hold", "does-not-hold"], "does-not-hold"),
        (["holds", "does-not-hold"], "partly"),  # one part of the claim holds, one does not
        (["partly", "inconclusive"], "partly"),
        (["inconclusive", "does-not-hold"], "inconclusive"),
        (["holds", "holds", "inconclusive"], "partly"),
    ],
)
def test_parts_of_a_claim_combine(parts, verdict):
    assert combine(parts) == verdict


# "as accurate (delta > -0.5) and cheaper (mean cost ratio over settings < 0.7)"
TWO_PARTS = Rule(
    "delta",
    "greater",
    -0.5,
    also=(
        Rule(
            "cost",
            "less",
            0.7,
            value=lambda r: sum(s["cost"] for s in r["settings"]) / len(r["settings"]),
        ),
    ),
)


def seeds(deltas, costs):
    return [
        {"delta": d, "settings": [{"cost": c}, {"cost": c + 0.1}]} for d, c in zip(deltas, costs)
    ]


def test_a_claim_of_two_parts_needs_both():
    accurate = [0.2, 0.3, 0.1]
    assert decide_claim(TWO_PARTS, seeds(accurate, [0.5, 0.55, 0.5])) == "holds"
    assert decide_claim(TWO_PARTS, seeds(accurate, [0.8, 0.85, 0.8])) == "partly"  # dearer
    assert decide_claim(TWO_PARTS, seeds([-2, -3, -2.5], [0.8, 0.85, 0.8])) == "does-not-hold"
    assert TWO_PARTS.also[0].values(seeds([0.0], [0.5])) == [pytest.approx(0.55)]
    exp = Experiment("two", "Two parts", Claim("c", "p"), TWO_PARTS, {"smoke": Scale({}, "")}, None)
    sentence = summary_sentence(exp, seeds(accurate, [0.8, 0.85, 0.8]), "partly")
    assert (
        "claimed delta > -0.5 (holds)" in sentence
        and "claimed cost < 0.7 (does-not-hold)" in sentence
    )
    assert sentence.endswith("together: partly.")


def write_png(path, n):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{n} seeds")
    return path


def test_redecide_applies_the_current_rule_to_the_written_numbers(tmp_path):
    old = Experiment("two", "Two parts", Claim("c", "p"), Rule("delta", "greater", -0.5),
                     {"smoke": Scale({}, "")}, None)  # fmt: skip
    per_seed = seeds([0.2, 0.3, 0.1], [0.8, 0.85, 0.8])
    written = {"experiment": "two", "per_seed": per_seed, "wall_time_s": 99.0, "claim": {}}
    (tmp_path / "two.json").write_text(json.dumps(written))
    first = redecide(old, tmp_path, log=None)
    assert first["verdict"] == "holds" and first["wall_time_s"] == 99.0
    new = Experiment("two", "Two parts", Claim("c", "p"), TWO_PARTS, {"smoke": Scale({}, "")}, None)
    second = redecide(new, tmp_path, log=None)
    saved = json.loads((tmp_path / "two.json").read_text())
    assert second["verdict"] == saved["verdict"] == "partly"
    assert [h["previous_verdict"] for h in saved["redecided"]] == [None, "holds"]
    assert saved["per_seed"] == per_seed and saved["rule"]["also"][0]["quantity"] == "cost"
    redecide(new, tmp_path, log=None)  # same rule, same verdict: no new history entry
    assert len(json.loads((tmp_path / "two.json").read_text())["redecided"]) == 2
    drawn = Experiment("two", "Two parts", Claim("c", "p"), TWO_PARTS, {"smoke": Scale({}, "")},
                       None, plot=lambda rows, d: [write_png(d / "curve.png", len(rows))])  # fmt: skip
    assert redecide(drawn, tmp_path, log=None)["plots"] == ["two/curve.png"]  # drawn once missing
    assert (tmp_path / "two" / "curve.png").read_text() == "3 seeds"
    (tmp_path / "two.json").write_text("{not json")
    with pytest.raises(DataError, match="not a result"):
        redecide(new, tmp_path, log=None)


def toy_experiment(data_dir, name="toy-suite"):
    def run_seed(ctx, scale, seed):
        cfg = tiny_config(data_dir, f"--seed={seed}", f"--epochs={scale.params['epochs']}")
        run = ctx.train("acn", cfg)
        if run is None:
            return {}
        summary = ctx.summary(run)
        return {"d": summary["accuracy"] - 50.0, "acc": summary["accuracy"]}

    return Experiment(
        name=name,
        title="Toy experiment",
        claim=Claim(text="accuracy above chance", paper="100 %"),
        rule=Rule("d", "greater", 0.0, describe="accuracy minus 50"),
        scales={"smoke": Scale(params={"epochs": 1}, changes="tiny npz data")},
        run_seed=run_seed,
    )


def test_runner_writes_json_and_never_retrains(tmp_path, monkeypatch):
    exp = toy_experiment(tmp_path)
    opts = RunOptions(scale="smoke", seeds=2, out=tmp_path / "results", runs=tmp_path / "runs")
    result = run_experiment(exp, opts, log=None)
    saved = json.loads((tmp_path / "results" / "toy-suite.json").read_text())
    for key in (
        "experiment",
        "scale",
        "seeds",
        "hardware",
        "torch",
        "wall_time_s",
        "per_seed",
        "claim",
        "verdict",
        "summary",
        "changes",
        "plots",
        "rule",
        "summary_numbers",
    ):
        assert key in saved
    assert saved["seeds"] == [0, 1] and saved["verdict"] == result["verdict"]
    assert saved["summary_numbers"]["acc"]["n"] == 2
    assert saved["verdict"] == decide(exp.rule, [r["d"] for r in saved["per_seed"]])
    # a second invocation reuses the finished runs: training must not be called
    monkeypatch.setattr(context, "train", lambda *a, **k: pytest.fail("retrained a finished run"))
    again = run_experiment(exp, opts, log=None)
    assert again["per_seed"] == saved["per_seed"]


def test_runner_resumes_from_checkpoint(tmp_path, monkeypatch):
    exp = toy_experiment(tmp_path)
    opts = RunOptions(scale="smoke", seeds=1, out=tmp_path / "r", runs=tmp_path / "runs")
    run_experiment(exp, opts, log=None)
    run = tmp_path / "runs" / "toy-suite" / "smoke" / "seed-0" / "acn"
    (run / "summary.json").unlink()  # as if interrupted after the last checkpoint
    calls = []
    real = context.train
    monkeypatch.setattr(context, "train", lambda cfg, **k: calls.append(k) or real(cfg, **k))
    run_experiment(exp, opts, log=None)
    assert calls == [{"resume": True, "progress": False, "log": None}]


def test_dry_run_steps_without_training_and_writes_nothing(tmp_path):
    exp = toy_experiment(tmp_path)
    lines = []
    opts = RunOptions(
        scale="smoke", seeds=3, out=tmp_path / "r", runs=tmp_path / "runs", dry_run=True
    )
    result = run_experiment(exp, opts, log=lines.append)
    (entry,) = result["plan"]
    assert entry["data_found"] and entry["train_samples"] == 64 and entry["flops_per_sample"] > 0
    assert (
        math.isfinite(entry["step_loss"])
        and entry["train_flops"] == 3 * entry["flops_per_sample"] * 64
    )
    assert "GPU-hours" in lines[-1] and "3 seed(s)" in lines[-1]
    assert not (tmp_path / "r").exists() and not (tmp_path / "runs").exists()


def test_dry_run_with_missing_data_uses_a_synthetic_batch(tmp_path):
    def run_seed(ctx, scale, seed):
        cfg = tiny_config(tmp_path, "--data.spec=npz:/nonexistent/cifar100.npz",
                          "--model.overrides.num_classes=100")  # fmt: skip
        ctx.train("x", cfg)
        return {}

    exp = Experiment("toy-missing", "t", Claim("c", "p"), GREATER,
                     {"paper": Scale({}, "paper")}, run_seed)  # fmt: skip
    lines = []
    opts = RunOptions(scale="paper", seeds=1, runs=tmp_path / "runs", dry_run=True)
    (entry,) = run_experiment(exp, opts, log=lines.append)["plan"]
    assert not entry["data_found"] and entry["train_samples"] == 50_000
    assert "MISSING" in lines[-1] and "/nonexistent/cifar100.npz" in lines[-1]


def test_unknown_scale_and_missing_quantity(tmp_path):
    exp = toy_experiment(tmp_path)
    with pytest.raises(ConfigError, match="no scale"):
        run_experiment(exp, RunOptions(scale="paper"), log=None)
    bad = Experiment("toy-bad", "t", Claim("c", "p"), GREATER, {"smoke": Scale({}, "")},
                     lambda ctx, scale, seed: {"other": 1.0})  # fmt: skip
    with pytest.raises(ConfigError, match="quantity"):
        run_experiment(bad, RunOptions(scale="smoke", out=tmp_path, runs=tmp_path), log=None)


def test_report_from_json_only(tmp_path):
    exp = toy_experiment(tmp_path)
    result = {
        "experiment": "toy", "title": "Toy", "scale": "cpu", "seeds": [0, 1, 2],
        "claim": {"text": "ACN wins", "paper": "62.5 vs 47.6"},
        "rule": exp.rule.as_dict(), "verdict": "holds",
        "quantity": interval([1.0, 2.0, 3.0]).as_dict(),
        "summary": summary_sentence(exp, [{"d": 1.0}, {"d": 2.0}, {"d": 3.0}], "holds"),
        "changes": "MNIST-5k instead of CIFAR-10", "hardware": {"device": "cpu", "cpu": "X"},
        "wall_time_s": 12.5, "note": "shared machine",
        "summary_numbers": {"acc": interval([90.0, 91.0]).as_dict(), "per_depth": {"k1": 0.5}},
        "plots": ["toy/curve.png"],
    }  # fmt: skip
    (tmp_path / "toy.json").write_text(json.dumps(result))
    (tmp_path / "other.json").write_text(json.dumps({"not": "a result"}))
    assert [r["experiment"] for r in load_results(tmp_path)] == ["toy"]
    text = write_report(tmp_path).read_text()
    assert text == render_report([result])
    for needle in (
        "62.5 vs 47.6",
        "**holds**",
        "2 +- 1 (n=3",
        "MNIST-5k instead",
        "shared machine",
        "![toy: curve](toy/curve.png)",
        "90.5 +- 0.707",
        "per_depth.k1",
        "12.5 s",
    ):
        assert needle in text, needle


def test_experiments_with_the_same_config_share_one_run(tmp_path, monkeypatch):
    calls = []
    real = context.train
    monkeypatch.setattr(
        context, "train", lambda cfg, **k: calls.append(cfg.out_dir) or real(cfg, **k)
    )
    opts = RunOptions(scale="smoke", seeds=1, out=tmp_path / "r", runs=tmp_path / "runs")
    first = run_experiment(toy_experiment(tmp_path, "toy-a"), opts, log=None)
    second = run_experiment(toy_experiment(tmp_path, "toy-b"), opts, log=None)
    assert len(calls) == 1 and "by-config" in calls[0]
    assert first["per_seed"] == second["per_seed"]
    link = tmp_path / "runs" / "toy-b" / "smoke" / "seed-0" / "acn"
    assert link.is_symlink() and (link / "summary.json").is_file()


def test_readme_headline_rows_match_the_committed_results():
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    link = "docs/results/REPORT.md"
    generated = set(headline_rows(load_results(root / "docs" / "results"), link))
    shown = [line for line in readme.splitlines() if line.startswith("| [") and link in line]
    assert all(line in generated for line in shown), "README headline out of date: run acn report"
