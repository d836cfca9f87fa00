"""Experiments 6-12: the quantities their rules judge, on synthetic numbers, and the rules."""

from __future__ import annotations

from acn.compress.sweep import PruneCurve, PruneLevel
from acn.experiments.catalog import (
    alternatives,
    baselines,
    bert,
    continual,
    early_exit,
    pruning,
    transfer,
)
from acn.experiments.recipes import MNIST_MIXER, SMOKE
from acn.experiments.suite import decide


def _curve(accs: list[float]) -> PruneCurve:
    levels = [PruneLevel(t / 10, t / 10, t / 10, 100, [0.0, a]) for t, a in enumerate(accs)]
    return PruneCurve("x", "acn", 1, levels)


def test_pruning_gap_averages_the_high_sparsity_levels_only():
    acn = _curve([90, 90, 90, 90, 90, 80, 70, 60, 50, 40])
    res = _curve([95, 95, 95, 95, 95, 70, 50, 30, 20, 10])
    assert pruning.high_sparsity_gap(acn, res) == (10 + 20 + 30 + 30 + 30) / 5


def test_continual_accuracy_and_forgetting():
    acc = [[90.0], [70.0, 80.0], [60.0, 75.0, 85.0]]  # acc[t][j]: after task t, on task j
    assert continual.average_accuracy(acc) == (60 + 75 + 85) / 3
    assert continual.average_forgetting(acc) == ((90 - 60) + (80 - 75)) / 2
    assert continual.average_forgetting([[88.0]]) == 0.0


def test_densenet_gets_the_depth_of_equal_parameters():
    assert baselines.equal_params_depth(MNIST_MIXER, "densenet") == 10  # the paper's 10 for 16
    assert baselines.equal_params_depth(MNIST_MIXER, "acn") == 16


def test_alternatives_gap_is_against_the_best_other_route():
    routes = {"acn-cut": {"accuracy": 95.0}, "res-scratch": {"accuracy": 93.0},
              "res-shortgpt-healed": {"accuracy": 96.0}}  # fmt: skip
    assert alternatives.acn_cut_gap(routes) == -1.0


def test_early_exit_rows_differ_only_in_their_exit_training():
    assert early_exit.row_changes("final", [4, 8]) == {}
    shared = early_exit.row_changes("shared", [4, 8])
    assert shared["loss"] == "exits" and "model" not in shared
    branches = early_exit.row_changes("branches", [4, 8])
    assert branches["model"]["overrides"]["exit_branches"] == [4, 8]


def test_transfer_stage_changes_carry_the_class_subset():
    up = transfer.stage_changes({"classes": [0, 1], "epochs": 10}, loss="layerskip")
    assert up["data"]["classes"] == [0, 1] and up["epochs"] == 10 and up["loss"] == "layerskip"
    assert up["optim"]["warmup_epochs"] == 1.0


def test_bert_rule_is_non_inferiority_within_one_point():
    rule = bert.EXPERIMENT.rule
    assert decide(rule, [-0.4, -0.2, -0.3]) == "holds"  # slightly worse, but within 1 point
    assert decide(rule, [-3.0, -2.6, -2.8]) == "does-not-hold"
    assert decide(rule, [-2.0, 1.0, -0.5]) == "partly"


def test_paper_direction_rules():
    for exp in (continual, pruning, transfer, baselines, early_exit):
        rule = exp.EXPERIMENT.rule
        assert rule.direction == "greater" and rule.threshold == 0.0
        assert decide(rule, [1.0, 1.2, 0.9]) == "holds"
        assert decide(rule, [-1.0, -1.2, -0.9]) == "does-not-hold"
        assert decide(rule, [1.0]) == "inconclusive"


def test_every_scale_of_experiments_6_to_12_is_declared():
    for exp in (continual, pruning, transfer, baselines, alternatives, early_exit, bert):
        assert set(exp.EXPERIMENT.scales) == {"smoke", "cpu", "paper"}
        assert all(s.changes for s in exp.EXPERIMENT.scales.values())
    assert pruning.EXPERIMENT.scales["smoke"].params["train"] is SMOKE
