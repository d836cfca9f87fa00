"""The reproduce suite: t-intervals and verdict rules on synthetic numbers, and the runner (resume,
shared runs, dry run, the result it writes) on a toy study."""

from __future__ import annotations

import math

import pytest

import acn.experiments.context as context
from _train_helpers import TINY_MODEL, tiny_npz
from acn.cli import main
from acn.errors import CheckpointError, ConfigError
from acn.experiments.measures import ACCURACY, CUTOFF, Measure
from acn.experiments.recipes import ENV_DATA
from acn.experiments.results import read_result
from acn.experiments.runner import RunOptions, run_experiment
from acn.experiments.study import Arm, Contrast, study
from acn.experiments.suite import (
    Claim,
    Experiment,
    Rule,
    Scale,
    combine,
    decide,
    decide_claim,
    interval,
    part_verdict,
    summary_sentence,
    t975,
)

GREATER = Rule(quantity="d", direction="greater", threshold=0.0)
LESS = Rule(quantity="d", direction="less", threshold=1.0)


def test_t_quantiles():
    assert t975(1) == pytest.approx(12.706) and t975(2) == pytest.approx(4.303)
    assert t975(31) == pytest.approx(2.0395, abs=2e-4)
    assert t975(1000) == pytest.approx(1.9623, abs=2e-4)
    with pytest.raises(ValueError):
        t975(0)


def test_interval_matches_hand_computation():
    iv = interval([1.0, 2.0, 3.0])
    assert iv.mean == 2.0 and iv.std == pytest.approx(1.0)
    half = 4.303 / math.sqrt(3)
    assert (iv.low, iv.high) == pytest.approx((2 - half, 2 + half))
    one = interval([5.0])
    assert one.std is None and one.low is None


def test_interval_of_values_near_the_float_limit_is_unbounded_not_an_error():
    iv = interval([1e308, -1e308, 1e308])  # (1e308)**2 overflows a float
    assert iv.std == math.inf and iv.low == -math.inf and iv.high == math.inf
    assert decide(GREATER, [1e308, -1e308, 1e308]) in ("partly", "inconclusive")


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


def test_a_judge_decides_on_every_seed_result_after_the_guards():
    """A judge sees the seeds' results (several arms at once); its quantity is still checked:
    one seed or a missing value is inconclusive before the judge is asked."""
    seen = []

    def judge(per_seed):
        seen.append(len(per_seed))
        both = all(r["contrasts"]["a"] > 0 and r["contrasts"]["b"] > 0 for r in per_seed)
        return "holds" if both else "does-not-hold"

    rule = Rule("a", "greater", judge=judge)
    rows = [{"contrasts": {"a": 1.0, "b": v}} for v in (1.0, 2.0, 3.0)]
    assert part_verdict(rule, rows) == "holds" and seen == [3]
    rows[1]["contrasts"]["b"] = -1.0  # the judge reads b, which the interval rule never sees
    assert part_verdict(rule, rows) == "does-not-hold"
    assert decide(Rule("a", "greater"), [1.0, 1.0, 1.0]) == "holds"
    assert part_verdict(rule, rows[:1]) == "inconclusive" and seen == [3, 3]
    rows[0]["contrasts"]["a"] = float("nan")
    assert part_verdict(rule, rows) == "inconclusive"
    assert decide_claim(Rule("x", "greater", also=(rule,)), [
        {"contrasts": {"x": 1.0, "a": 1.0, "b": 1.0}} for _ in range(3)]) == "holds"  # fmt: skip
    assert rule.as_dict()["custom"] is True
    with pytest.raises(ConfigError):
        part_verdict(Rule("a", "greater", judge=lambda _: "maybe"), rows[1:])


def test_one_seed_is_inconclusive_for_a_custom_rule_too():
    """A claim about a share of seeds cannot be judged on one: the guard comes first."""
    always = Rule("d", "greater", verdict_fn=lambda v: "holds")
    assert decide(always, [0.5]) == "inconclusive"
    assert decide(always, [0.5, 0.4]) == "holds"


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


# "as accurate (delta > -0.5) and cheaper (cost ratio < 0.7)"
TWO_PARTS = Rule("delta", "greater", -0.5, also=(Rule("cost", "less", 0.7),))


def seeds(deltas, costs):
    return [{"seed": i, "arms": {}, "contrasts": {"delta": d, "cost": c}}
            for i, (d, c) in enumerate(zip(deltas, costs))]  # fmt: skip


def test_a_claim_of_two_parts_needs_both():
    accurate = [0.2, 0.3, 0.1]
    assert decide_claim(TWO_PARTS, seeds(accurate, [0.5, 0.55, 0.5])) == "holds"
    assert decide_claim(TWO_PARTS, seeds(accurate, [0.8, 0.85, 0.8])) == "partly"  # dearer
    assert decide_claim(TWO_PARTS, seeds([-2, -3, -2.5], [0.8, 0.85, 0.8])) == "does-not-hold"
    exp = Experiment("two", "Two parts", Claim("c", "p"), TWO_PARTS, {"smoke": Scale({}, "")}, None)
    sentence = summary_sentence(exp, seeds(accurate, [0.8, 0.85, 0.8]), "partly")
    assert "claimed delta > -0.5 (holds)" in sentence
    assert "claimed cost < 0.7 (does-not-hold)" in sentence
    assert sentence.endswith("together: partly.")


# -- the runner on a toy study -----------------------------------------------------------------


def toy_recipe(tmp_path) -> dict:
    data = tmp_path / "tiny.npz"
    if not data.exists():
        tiny_npz(data)
    return {"model": {"name": "mixer_s8", "overrides": TINY_MODEL},
            "data": {"spec": f"npz:{data}"}, "epochs": 1, "batch_size": 16,
            "eval_batch_size": 16, "optim": {"warmup_epochs": 0.5}}  # fmt: skip


ABOVE_CHANCE = Measure("above_chance", lambda t: t.summary("accuracy") - 25.0, True)


def toy_study(tmp_path, name="toy-suite", arms=()) -> Experiment:
    return study(
        name=name,
        title="Toy study",
        claim=Claim(text="ACN beats residual on quadrants", paper="100 %"),
        rule=Rule("d", "greater", 0.0, describe="accuracy difference"),
        arms=(Arm("residual", "residual"), Arm("acn", "acn"), *arms),
        measures=(ACCURACY, CUTOFF, ABOVE_CHANCE),
        contrasts=(Contrast.gain("d", ACCURACY, "acn", over="residual"),),
        scales={"smoke": Scale(params={"train": toy_recipe(tmp_path)}, changes="tiny npz data")},
    )


def options(tmp_path, **kw) -> RunOptions:
    return RunOptions(**{"scale": "smoke", "seeds": 2, "out": tmp_path / "results",
                         "runs": tmp_path / "runs", **kw})  # fmt: skip


def test_runner_writes_the_result_schema_and_never_retrains(tmp_path, monkeypatch):
    exp = toy_study(tmp_path)
    result = run_experiment(exp, options(tmp_path, command="acn reproduce toy"), log=None)
    saved = read_result(tmp_path / "results" / "toy-suite.json")  # checked field by field
    assert saved["kind"] == "experiment" and saved["name"] == "toy-suite"
    assert saved["seeds"] == [0, 1] and saved["verdict"] == result["verdict"]
    for row in saved["per_seed"]:
        assert set(row) == {"seed", "arms", "contrasts", "runs"}
        acc = {a: n["accuracy"] for a, n in row["arms"].items()}
        assert row["contrasts"]["d"] == acc["acn"] - acc["residual"]
        # every run the seed read, by its config digest: the same digest is its directory
        assert set(row["runs"]) == {"residual", "acn"}
        for digest in row["runs"].values():
            assert (tmp_path / "runs" / "by-config" / digest / "summary.json").is_file()
    assert saved["verdict"] == decide(exp.rule, [r["contrasts"]["d"] for r in saved["per_seed"]])
    # an interval for every number: each arm's scalar measures and each contrast
    numbers = saved["summary_numbers"]
    assert set(numbers["arms"]["acn"]) == {"accuracy", "cutoff", "above_chance"}
    assert numbers["contrasts"]["d"]["n"] == 2 and len(numbers["contrasts"]["d"]["ci95"]) == 2
    p = saved["provenance"]
    assert p["command"] == "acn reproduce toy" and p["versions"]["acn"] and p["versions"]["torch"]
    assert p["git"] is None or (len(p["git"]["commit"]) == 40 and p["git"]["dirty"] in (0, 1))
    # a second invocation reuses the finished runs: training must not be called
    monkeypatch.setattr(context, "train", lambda *a, **k: pytest.fail("retrained a finished run"))
    again = run_experiment(exp, options(tmp_path), log=None)
    assert again["per_seed"] == saved["per_seed"]


def test_the_same_runs_spelled_otherwise_or_moved_are_reused(tmp_path, monkeypatch):
    """Configs are compared, not path spellings: a run that starts from another (init_from
    names a path inside the runs directory) is the same run under any spelling or location."""
    exp = toy_study(tmp_path, arms=(Arm("acn-tuned", "acn", {"epochs": 2}, after="acn"),))
    monkeypatch.chdir(tmp_path)
    first = run_experiment(exp, options(tmp_path, seeds=1, runs="rr9"), log=None)
    monkeypatch.setattr(context, "train", lambda *a, **k: pytest.fail("retrained a finished run"))
    spelled = run_experiment(exp, options(tmp_path, seeds=1, runs=tmp_path / "rr9"), log=None)
    (tmp_path / "rr9").rename(tmp_path / "moved")
    moved = run_experiment(exp, options(tmp_path, seeds=1, runs="moved"), log=None)
    assert first["per_seed"] == spelled["per_seed"] == moved["per_seed"]
    tuned = tmp_path / "moved" / "by-config" / first["per_seed"][0]["runs"]["acn-tuned"]
    assert "/rr9/by-config/acn-" in (tuned / "config.yaml").read_text()  # written before the move


def test_a_run_of_another_config_is_refused_and_left_alone(tmp_path, capsys):
    exp = toy_study(tmp_path)
    run_experiment(exp, options(tmp_path, seeds=1), log=None)
    digest = read_result(tmp_path / "results" / "toy-suite.json")["per_seed"][0]["runs"]["acn"]
    config = tmp_path / "runs" / "by-config" / digest / "config.yaml"
    config.write_text(config.read_text().replace("epochs: 1", "epochs: 7"))
    before = {p: p.read_bytes() for p in config.parent.rglob("*") if p.is_file()}
    with pytest.raises(ConfigError) as error:
        run_experiment(exp, options(tmp_path, seeds=1), log=None)
    message = str(error.value)
    assert "another config (epochs differ)" in message and "left as it is" in message
    assert "remove" not in message and "delete" not in message
    assert before == {p: p.read_bytes() for p in config.parent.rglob("*") if p.is_file()}


@pytest.mark.parametrize("summary", ["[1, 2]", '{"depth": 3, "accuracy": 50.0}', "{"])
def test_a_reused_summary_of_the_wrong_shape_is_one_line(tmp_path, summary):
    exp = toy_study(tmp_path)
    run_experiment(exp, options(tmp_path, seeds=1), log=None)
    path = tmp_path / "runs" / "toy-suite" / "smoke" / "seed-0" / "acn" / "summary.json"
    path.write_text(summary)
    with pytest.raises(CheckpointError, match="summary.json") as error:
        run_experiment(exp, options(tmp_path, seeds=1), log=None)
    assert "\n" not in str(error.value) and path.read_text() == summary


def test_runner_resumes_from_checkpoint(tmp_path, monkeypatch):
    exp = toy_study(tmp_path)
    run_experiment(exp, options(tmp_path, seeds=1), log=None)
    run = (tmp_path / "runs" / "toy-suite" / "smoke" / "seed-0" / "acn").resolve()
    (run / "summary.json").unlink()  # as if interrupted after the last checkpoint
    calls = []
    real = context.train
    monkeypatch.setattr(context, "train", lambda cfg, **k: calls.append(k) or real(cfg, **k))
    run_experiment(exp, options(tmp_path, seeds=1), log=None)
    assert calls == [{"resume": True, "allow_changed_config": True, "progress": False,
                      "log": None}]  # fmt: skip


def test_a_bad_device_stops_before_any_run_or_link(tmp_path):
    with pytest.raises(ConfigError, match="unknown device 'bogus'"):
        run_experiment(toy_study(tmp_path), options(tmp_path, device="bogus"), log=None)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "results").exists()


def test_dry_run_steps_without_training_and_writes_nothing(tmp_path):
    lines = []
    result = run_experiment(toy_study(tmp_path), options(tmp_path, seeds=3, dry_run=True),
                            log=lines.append)  # fmt: skip
    assert [e["key"] for e in result["plan"]] == ["residual", "acn"]
    entry = result["plan"][1]
    assert entry["data_found"] and entry["train_samples"] == 64 and entry["flops_per_sample"] > 0
    assert math.isfinite(entry["step_loss"])
    assert entry["train_flops"] == 3 * entry["flops_per_sample"] * 64
    assert "GPU-hours" in lines[-1] and "3 seed(s)" in lines[-1]
    assert not (tmp_path / "results").exists() and not (tmp_path / "runs").exists()


def test_dry_run_with_missing_data_uses_a_synthetic_batch(tmp_path):
    recipe = {**toy_recipe(tmp_path), "data": {"spec": "npz:/nonexistent/cifar100.npz"}}
    recipe["model"] = {"name": "mixer_s8", "overrides": {**TINY_MODEL, "num_classes": 100}}
    exp = study(name="toy-missing", title="t", claim=Claim("c", "p"), rule=GREATER,
                arms=(Arm("x", "acn"),), measures=(ACCURACY,),
                contrasts=(Contrast.value("d", ACCURACY, "x"),),
                scales={"paper": Scale({"train": recipe}, "paper")})  # fmt: skip
    lines = []
    opts = options(tmp_path, scale="paper", seeds=1, dry_run=True)
    (entry,) = run_experiment(exp, opts, log=lines.append)["plan"]
    assert not entry["data_found"] and entry["train_samples"] == 50_000
    assert "MISSING" in lines[-1] and "/nonexistent/cifar100.npz" in lines[-1]


def test_unknown_scale_and_missing_quantity(tmp_path):
    with pytest.raises(ConfigError, match="no scale"):
        run_experiment(toy_study(tmp_path), options(tmp_path, scale="paper"), log=None)
    bad = Experiment("toy-bad", "t", Claim("c", "p"), GREATER, {"smoke": Scale({}, "")},
                     lambda ctx, scale, seed: {"arms": {}, "contrasts": {"other": 1.0}})  # fmt: skip
    with pytest.raises(ConfigError, match="quantity"):
        run_experiment(bad, options(tmp_path), log=None)
    shapeless = Experiment("toy-flat", "t", Claim("c", "p"), GREATER, {"smoke": Scale({}, "")},
                           lambda ctx, scale, seed: {"d": 1.0})  # fmt: skip
    with pytest.raises(ConfigError, match="arms and contrasts"):
        run_experiment(shapeless, options(tmp_path), log=None)


def test_experiments_with_the_same_config_share_one_run(tmp_path, monkeypatch):
    calls = []
    real = context.train
    monkeypatch.setattr(
        context, "train", lambda cfg, **k: calls.append(cfg.model.connectivity) or real(cfg, **k)
    )
    first = run_experiment(toy_study(tmp_path, "toy-a"), options(tmp_path, seeds=1), log=None)
    second = run_experiment(toy_study(tmp_path, "toy-b"), options(tmp_path, seeds=1), log=None)
    assert calls == ["residual", "acn"]
    assert first["per_seed"] == second["per_seed"]
    link = tmp_path / "runs" / "toy-b" / "smoke" / "seed-0" / "acn"
    assert link.is_symlink() and (link / "summary.json").is_file()


def test_data_the_scale_needs_is_named_before_anything_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(ENV_DATA, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "continual", "--scale", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cifar10-jpeg-wds" in err and "--data-root" in err
    assert not (tmp_path / "runs").exists()
    (tmp_path / "data").mkdir()
    assert main(["reproduce", "continual", "--scale", "cpu", "--data-root", "data"]) == 2
    err = capsys.readouterr().err
    assert "not found under the data root" in err and "cifar10-jpeg-wds" in err
    assert not (tmp_path / "runs").exists()
