"""The rules of ``gradients``, ``pruning`` and ``bert`` on the paper's own axes, on synthetic per-seed
numbers (holds, does-not-hold, partly, inconclusive): each quantity computed from arms the way the
experiment computes it, then the declared rule's verdict; and the BERT gate keeps a seed whose
pretraining failed out of the comparison."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from acn.compress.sweep import PruneCurve, PruneLevel
from acn.experiments.catalog import bert, gradients, pruning
from acn.experiments.context import RunContext
from acn.experiments.recipes import Dataset, Sources
from acn.experiments.report import render_report
from acn.experiments.results import read_result
from acn.experiments.runner import RunOptions, run_experiment
from acn.experiments.suite import decide_claim

ROOT = Path(__file__).resolve().parents[1]


def verdict(exp, contrasts: list[dict[str, Any]]) -> str:
    return decide_claim(exp.rule, [{"contrasts": c} for c in contrasts])


def contrasts_of(exp_contrasts, arms) -> dict[str, Any]:
    return {c.name: c.fn(arms) for c in exp_contrasts}


# -- gradients: the authors' cosine, and the early/late gradient-norm ratio (Fig. 1) ---------------


def grad_arm(cosine: float, norms_first_epoch: list[float], norm_ratio: float) -> dict[str, Any]:
    """Measures of one arm from 4-block x 2-epoch heatmaps (the cosine and the norm ratio flat
    over blocks and epochs, the gradient norms given for the first epoch)."""
    heat = {
        "dg_cosine": [[cosine, cosine] for _ in range(4)],
        "dg_norm_ratio": [[norm_ratio] * 2 for _ in range(4)],
        "dg_share": [[norm_ratio] * 2 for _ in range(4)],
        "grad_norm": [[n, 1.0] for n in norms_first_epoch],
        "probe_grad_norm": [[n, 1.0] for n in norms_first_epoch],
    }
    return {
        "dg_cosine_mean": gradients.matrix_mean(heat["dg_cosine"]),
        "dg_norm_ratio_mean": gradients.matrix_mean(heat["dg_norm_ratio"]),
        "dg_share_mean": gradients.matrix_mean(heat["dg_share"]),
        "early_late_grad_ratio": gradients.first_epoch_early_late(heat["grad_norm"]),
        "early_late_probe_ratio": gradients.first_epoch_early_late(heat["probe_grad_norm"]),
    }


def grad_seed(acn_cos: float, res_cos: float, acn_first: float, res_first: float) -> dict:
    arms = {
        # the ACN's norm ratio tracks the path count (low), the residual's exceeds 1
        "acn": grad_arm(acn_cos, [acn_first, 2.0, 1.5, 1.0], 0.2),
        "residual": grad_arm(res_cos, [res_first, 1.0, 1.0, 1.0], 1.2),
    }
    return contrasts_of(gradients.CONTRASTS, arms)


def test_gradients_quantities():
    seed = grad_seed(0.8, 0.4, 17.0, 2.8)
    assert seed["acn_minus_residual_dg_cosine"] == pytest.approx(0.4)
    # first quarter (block 1) over last quarter (block 4) at the first epoch: 17 vs 2.8
    assert seed["acn_over_residual_early_late_log"] == pytest.approx(math.log(17.0 / 2.8))
    assert seed["acn_minus_residual_dg_share"] == pytest.approx(-1.0)  # the earlier quantity
    assert math.isnan(gradients.log_ratio(0.0, 2.0))
    assert math.isnan(gradients.first_epoch_early_late([]))


def test_gradients_rule():
    jitter = (0.0, 0.05, -0.04)
    holds = [grad_seed(0.8 + j, 0.4, 17.0 + 10 * j, 2.8) for j in jitter]
    assert verdict(gradients.EXPERIMENT, holds) == "holds"
    # the earlier rule (fixed-batch norm ratio) would read the path count: does-not-hold
    assert all(s["acn_minus_residual_dg_share"] < 0 for s in holds)
    reverse = [grad_seed(0.3 + j, 0.7, 2.0 + j, 6.0) for j in jitter]
    assert verdict(gradients.EXPERIMENT, reverse) == "does-not-hold"
    # the cosine higher, but no layer-wise gradient early on: one part only
    flat = [grad_seed(0.8 + j, 0.4, 2.0 + j, 6.0) for j in jitter]
    assert verdict(gradients.EXPERIMENT, flat) == "partly"
    assert verdict(gradients.EXPERIMENT, holds[:1]) == "inconclusive"  # one seed
    noisy = [grad_seed(0.4 + d, 0.4, 2.8 + 10 * d, 2.8) for d in (0.2, -0.25, 0.02)]
    assert verdict(gradients.EXPERIMENT, noisy) in ("partly", "inconclusive")


def test_gradients_runs_log_both_statistics():
    for scale in gradients.EXPERIMENT.scales.values():
        recipe = scale.params["train"]
        assert recipe["grad_stats"] is True and recipe["grad_stats_every"] >= 1
    assert "cos" in gradients.FIGURE_STATISTIC_NOTE and "0.2-1.0" in gradients.FIGURE_STATISTIC_NOTE


# -- pruning: accuracy against the deployed size, where the residual still works ------------------


def curve(conn: str, points: list[tuple[int, float]]) -> PruneCurve:
    """Levels 0, 10, ... % with the model as deployed at (non-zero parameters, accuracy)."""
    levels = [
        PruneLevel(i / 10, i / 10, i / 10, n, [0.0, acc], deployed_depth=1,
                   deployed_nonzero_params=n)
        for i, (n, acc) in enumerate(points)
    ]  # fmt: skip
    return PruneCurve("x", conn, 1, levels)


RES = [(1000, 96.0), (900, 95.5), (800, 94.0), (700, 88.0), (600, 70.0), (500, 30.0)]


def test_accuracy_at_size_interpolates_between_levels():
    pts = [(750.0, 96.0), (675.0, 95.0), (600.0, 90.0)]
    assert pruning.accuracy_at_size(pts, 1000.0) == 96.0  # the unpruned cut model fits
    assert pruning.accuracy_at_size(pts, 637.5) == pytest.approx(92.5)
    assert math.isnan(pruning.accuracy_at_size(pts, 500.0))  # no ACN model that small


def test_pruning_judges_only_where_the_residual_keeps_90_percent():
    res = curve("residual", RES)
    assert [lv.deployed_nonzero_params for lv in pruning.retained_levels(res)] == [
        1000,
        900,
        800,
        700,
    ]  # fmt: skip  (88.0 >= 0.9 * 96 = 86.4; 70.0 is not)
    acn = curve("acn", [(750, 96.0), (675, 96.0), (600, 95.0), (525, 90.0), (450, 50.0)])
    # at 1000, 900, 800: the cut ACN's 96 (it fits); at 700: between 750 and 675
    expected = ((96 - 96.0) + (96 - 95.5) + (96 - 94.0) + (96 - 88.0)) / 4
    assert pruning.equal_size_gap(acn, res) == pytest.approx(expected)
    # the earlier quantity (equal relative sparsity >= 50 %, full depth) is another number
    assert pruning.high_sparsity_gap(acn, res) != pytest.approx(expected)


def prune_seed(acn_shift: float, movement_shift: float) -> dict[str, Any]:
    acn = curve("acn", [(750, 96 + acn_shift), (675, 95 + acn_shift), (600, 94 + acn_shift),
                        (525, 80.0), (450, 50.0), (375, 20.0)])  # fmt: skip
    mov = curve("acn", [(n, a + movement_shift) for n, a in
                        [(750, 96.0), (675, 95.0), (600, 94.0), (525, 80.0), (450, 50.0)]])  # fmt: skip
    arms = {"acn": {"prune_curve": acn.to_dict(), "movement_curve": mov.to_dict()},
            "residual": {"prune_curve": curve("residual", RES).to_dict(),
                         "movement_curve": curve("residual", RES[:5]).to_dict()}}  # fmt: skip
    return contrasts_of(pruning.CONTRASTS, arms)


def test_pruning_rule():
    jitter = (0.0, 0.3, -0.2)
    assert verdict(pruning.EXPERIMENT, [prune_seed(j, 0.5 + j) for j in jitter]) == "holds"
    assert verdict(pruning.EXPERIMENT, [prune_seed(-10 + j, -10 + j) for j in jitter]) == (
        "does-not-hold")  # fmt: skip
    assert verdict(pruning.EXPERIMENT, [prune_seed(j, -10 + j) for j in jitter]) == "partly"
    assert verdict(pruning.EXPERIMENT, [prune_seed(0.0, 0.5)]) == "inconclusive"
    seed = prune_seed(0.0, 0.0)
    assert seed["residual_levels_judged"] == 4 and seed["residual_levels_judged_movement"] == 4


# -- bert: the gate, the validation split, the committed recipe -----------------------------------


def test_bert_rule_on_synthetic_seeds():
    q = bert.QUANTITY
    assert verdict(bert.EXPERIMENT, [{q: v} for v in (-0.4, -0.2, -0.3)]) == "holds"
    assert verdict(bert.EXPERIMENT, [{q: v} for v in (-3.0, -2.6, -2.8)]) == "does-not-hold"
    # a seed that failed pretraining has no value: never a verdict either way
    assert verdict(bert.EXPERIMENT, [{q: 0.5}, {q: None}, {q: 0.4}]) == "inconclusive"


def test_bert_chooses_on_validation_accuracy():
    assert bert.choose({3e-4: {"accuracy": 80.0}, 1e-3: {"accuracy": 82.5}}) == 1e-3
    assert bert.choose({3e-4: {"accuracy": 82.5}, 1e-3: {"accuracy": 82.5}}) == 3e-4
    acn = {"dev_accuracy_at_cutoff": 81.0, "dev_accuracy": 82.0}
    assert bert.compare(acn, {"dev_accuracy": 83.0, "dev_accuracy_at_cutoff": 50.0}) == -2.0


def test_bert_cpu_recipe_is_the_committed_config():
    cfg = yaml.safe_load((ROOT / "configs" / "bert_mlm_sst2_agnews.yaml").read_text())
    recipe = bert.CPU_PRETRAIN
    assert recipe["model"]["name"] == cfg["model"]["name"]
    assert recipe["model"]["overrides"] == cfg["model"].get("overrides", {})
    assert recipe["data"]["options"] == cfg["data"]["options"]
    assert {k: tuple(v) if isinstance(v, list) else v for k, v in recipe["optim"].items()} == {
        k: tuple(v) if isinstance(v, list) else v for k, v in cfg["optim"].items()}  # fmt: skip
    for key in ("epochs", "batch_size", "eval_batch_size"):
        assert recipe[key] == cfg[key]
    # the config's files, relative to its data root (spelled ~/data or any other way)
    files = ["/".join(Path(p).parts[-2:]) for p in cfg["data"]["spec"].split(":")[1:]]
    assert list(recipe["data"]["spec"].paths) == files
    cpu = bert.EXPERIMENT.scales["cpu"].params
    assert cpu["acn_epoch_ratio"] == 2 and cpu["warmup_fraction"] == 0.5
    assert cpu["enforce_gate"] and cpu["gate_margin"] == 5.0 and 0 < cpu["validation"] < 1


def test_multi_file_dataset_spec(tmp_path):
    d = Dataset("text", "a/train.tsv", more=("b/train.tsv",))
    assert str(d) == "text:$ACN_DATA/a/train.tsv:$ACN_DATA/b/train.tsv"
    spec = Sources(tmp_path, tmp_path / "gen").spec(d)
    assert spec == f"text:{tmp_path}/a/train.tsv:{tmp_path}/b/train.tsv"


def test_bert_seed_failing_the_gate_is_never_fine_tuned(tmp_path, monkeypatch):
    """The smoke recipe with the gate enforced and a gate that fails: pretraining only."""
    failed = {"passed": False, "accuracy": 3.0, "unigram_rate": 3.0, "margin": 5.0}
    monkeypatch.setattr(bert, "pretraining_gate",
                        lambda *a, **k: type("G", (), {"to_dict": lambda self: failed})())  # fmt: skip
    scale = bert.EXPERIMENT.scales["smoke"]
    scale = type(scale)({**scale.params, "enforce_gate": True}, scale.changes)
    ctx = RunContext(out=tmp_path / "seed-0", scale="smoke",
                     sources=Sources(None, tmp_path / "gen"), log_fn=None)  # fmt: skip
    result = bert.EXPERIMENT.run_seed(ctx, scale, 0)
    assert set(result["arms"]) == {"acn-mlm", "residual-mlm"}
    assert result["contrasts"][bert.QUANTITY] is None
    assert result["contrasts"]["pretraining_passed"] == 0
    assert sorted(p.name for p in (tmp_path / "seed-0").iterdir()) == ["acn-mlm", "residual-mlm"]


def test_bert_with_every_seed_failing_the_gate_reports_failed_pretraining(tmp_path, monkeypatch):
    """The whole experiment (smoke recipe, gate enforced, a gate that fails on every seed) writes
    a result with no rule value, says which seeds failed, and renders in REPORT.md."""
    failed = {"passed": False, "accuracy": 3.5, "unigram_rate": 3.5, "margin": 5.0}
    monkeypatch.setattr(bert, "pretraining_gate",
                        lambda *a, **k: type("G", (), {"to_dict": lambda self: failed})())  # fmt: skip
    smoke = bert.EXPERIMENT.scales["smoke"]
    monkeypatch.setitem(bert.EXPERIMENT.scales, "smoke",
                        type(smoke)({**smoke.params, "enforce_gate": True}, smoke.changes))  # fmt: skip
    opts = RunOptions(scale="smoke", seeds=2, out=tmp_path / "out", runs=tmp_path / "runs")
    run_experiment(bert.EXPERIMENT, opts, log=None)
    result = read_result(tmp_path / "out" / "bert.json")
    assert result["verdict"] == "inconclusive"
    assert result["summary_numbers"]["failed_pretraining_seeds"] == [0, 1]
    assert all(s["contrasts"][bert.QUANTITY] is None for s in result["per_seed"])
    assert "bert" in render_report([result])


def test_bert_cpu_dry_run_step_scores_masked_tokens(tmp_path, shared_data):
    """The cpu plan's one optimizer step on 16-token masked-LM rows has tokens to score (one
    row, as a causal LM takes, or four scored none at seed 6: loss 0, nothing checked)."""
    root = shared_data("sst2").parent
    shared_data("agnews")
    opts = RunOptions(scale="cpu", seeds=1, first_seed=6, out=tmp_path / "out",
                      runs=tmp_path / "runs", data_root=root, dry_run=True)  # fmt: skip
    plan = {e["key"]: e for e in run_experiment(bert.EXPERIMENT, opts, log=None)["plan"]}
    for key in ("acn-mlm", "residual-mlm"):
        assert plan[key]["data_found"] and plan[key]["step_loss"] > 1.0
