"""The rules that test the whole of each claim, on synthetic per-seed numbers: each rule's
quantity computed from arms the way the experiment computes it, then the declared rule's verdict
(holds, does-not-hold, partly, inconclusive)."""

from __future__ import annotations

from typing import Any

from acn.experiments.catalog import (
    alternatives,
    autocut,
    baselines,
    compression,
    continual,
    difficulty,
    lowdata,
    noise,
    transfer,
)
from acn.experiments.recipes import CIFAR10, CIFAR_SMALL, MNIST_MIXER, datasets_in
from acn.experiments.suite import Rule, decide, decide_claim
from acn.train.summary import CUTOFF_TOLERANCE


def verdict(exp, contrasts: list[dict[str, Any]]) -> str:
    return decide_claim(exp.rule, [{"contrasts": c} for c in contrasts])


# -- noise: the drop from clean accuracy, and its growth with the noise level ---------------------


def noisy_arm(clean: float, drops: dict[str, float]) -> dict[str, float]:
    return {"clean": clean, **{s: clean - d for s, d in drops.items()}}


# the residual's drop per setting (weakest to strongest level of each kind)
RES_DROPS = {"gauss_0.1": 2.0, "gauss_0.2": 5.0, "gauss_0.4": 20.0,
             "sp_0.01": 10.0, "sp_0.05": 40.0, "sp_0.1": 60.0}  # fmt: skip


def noise_seed(acn_clean_lead: float, less: dict[str, float], jitter: float) -> dict[str, float]:
    """One seed: the ACN ``acn_clean_lead`` points ahead on clean data and losing ``less[s]``
    fewer points than the residual under setting s."""
    res = noisy_arm(90.0, {s: d + jitter for s, d in RES_DROPS.items()})
    acn = noisy_arm(90.0 + acn_clean_lead, {s: d - less.get(s, 0.0) for s, d in RES_DROPS.items()})
    arms = {"residual": res, "acn": acn}
    return {"residual_minus_acn_drop_pt": noise.drop_gap_mean(arms),
            "drop_gap_growth_pt": noise.drop_gap_growth(arms),
            "noisy_accuracy_gap": sum(d.fn(arms) for d in noise.DIFFS) / len(noise.DIFFS)}  # fmt: skip


def test_noise_drop_is_clean_minus_noisy_for_each_model():
    arms = {"residual": noisy_arm(90.0, RES_DROPS), "acn": noisy_arm(91.0, RES_DROPS)}
    assert noise.drop(arms["residual"], "gauss_0.4") == 20.0
    assert noise.drop_gap_mean(arms) == 0.0  # the same drop: a clean lead is not robustness
    grows = {"gauss_0.1": 1.0, "gauss_0.4": 5.0, "sp_0.01": 0.0, "sp_0.1": 4.0}
    acn = noisy_arm(91.0, {s: d - grows.get(s, 0.0) for s, d in RES_DROPS.items()})
    arms["acn"] = acn
    assert noise.drop_gap_mean(arms) == (1 + 5 + 4) / 6
    assert noise.drop_gap_growth(arms) == ((5 - 1) + (4 - 0)) / 2


def test_noise_rule():
    strong = {"gauss_0.1": 0.5, "gauss_0.4": 4.0, "sp_0.01": 1.0, "sp_0.1": 6.0}
    jitters = (0.0, 0.3, -0.2)
    # a clean lead alone: noisy accuracy higher everywhere, the same drops -> not robustness
    lead_only = [noise_seed(0.9, {}, j) for j in jitters]
    old_rule = Rule("noisy_accuracy_gap", "greater", 0.0)  # the rule before: noisy accuracy
    assert decide(old_rule, [s["noisy_accuracy_gap"] for s in lead_only]) == "holds"
    assert verdict(noise.EXPERIMENT, lead_only) in ("partly", "inconclusive")
    assert verdict(noise.EXPERIMENT, [noise_seed(0.0, strong, j) for j in jitters]) == "holds"
    weaker = {s: -v for s, v in strong.items()}  # the ACN loses more, more so at strong levels
    assert verdict(noise.EXPERIMENT, [noise_seed(0.9, weaker, j) for j in jitters]) == (
        "does-not-hold")  # fmt: skip
    # loses less, but less so at the strongest levels: one part holds, the other does not
    flat = {"gauss_0.1": 4.0, "gauss_0.2": 3.0, "gauss_0.4": 1.0, "sp_0.01": 5.0, "sp_0.1": 2.0}
    assert verdict(noise.EXPERIMENT, [noise_seed(0.0, flat, j) for j in jitters]) == "partly"
    assert verdict(noise.EXPERIMENT, [noise_seed(0.0, strong, 0.0)]) == "inconclusive"  # 1 seed


# -- difficulty: the ACN grows with the task, the residual does not (or less) ---------------------


def difficulty_seed(acn: list[int], res: list[int]) -> dict[str, float]:
    """One seed's contrasts from the cutoffs at 2, 5 and 10 classes."""
    arms = {difficulty.key(conn, c): {"classes": c, "cutoff": k}
            for conn, cutoffs in (("acn", acn), ("residual", res))
            for c, k in zip((2, 5, 10), cutoffs)}  # fmt: skip
    return {c.name: c.fn(arms) for c in difficulty.CONTRASTS}


def test_difficulty_contrasts():
    seed = difficulty_seed([2, 10, 13], [11, 16, 16])  # MNIST-like: the residual grows a bit too
    assert seed["acn_cutoff_growth"] == 11 and seed["residual_cutoff_growth"] == 5
    assert seed["acn_minus_residual_cutoff_growth"] == 6


def test_difficulty_rule_has_both_parts():
    exp = difficulty.EXPERIMENT
    paper = [difficulty_seed([8, 10, 12], [16, 16, 16]), difficulty_seed([7, 10, 13], [16, 16, 16]),
             difficulty_seed([8, 11, 12], [16, 16, 16])]  # fmt: skip
    assert verdict(exp, paper) == "holds"
    # both grow alike: the ACN part holds, the residual part does not
    alike = [difficulty_seed([2, 9, 12], [2, 9, 12]), difficulty_seed([3, 9, 13], [2, 9, 12]),
             difficulty_seed([2, 10, 12], [3, 10, 14])]  # fmt: skip
    assert verdict(exp, alike) == "partly"
    assert decide(exp.rule.also[0], [s["acn_minus_residual_cutoff_growth"] for s in alike]) in (
        "inconclusive", "partly")  # fmt: skip
    shrinking = [difficulty_seed([12, 10, 8], [10, 13, 16]), difficulty_seed([13, 10, 9],
                 [11, 13, 16]), difficulty_seed([12, 11, 8], [10, 14, 16])]  # fmt: skip
    assert verdict(exp, shrinking) == "does-not-hold"
    assert verdict(exp, paper[:1]) == "inconclusive"
    assert difficulty.OTHER_SETTINGS[0].rule == exp.rule  # the CIFAR-10 setting: the same rule


# -- baselines: more accurate AND a smaller part of the network -----------------------------------


def baselines_seed(acc: dict[str, float], used: dict[str, float]) -> dict[str, float]:
    arms = {m: {"accuracy": acc[m], "network_used_pct": used[m]} for m in baselines.MODELS}
    return {"acn_minus_best_other_pt": baselines.acn_minus_best_other(arms),
            "others_minus_acn_network_used_pct": baselines.others_minus_acn_network_used(arms)}  # fmt: skip


FULL = {"residual": 100.0, "densenet": 100.0, "denseformer": 100.0}


def test_baselines_network_used_is_against_the_most_compressed_other():
    seed = baselines_seed({"acn": 92, "residual": 90, "densenet": 91, "denseformer": 90},
                          {"acn": 75.0, "residual": 100.0, "densenet": 70.0, "denseformer": 100.0})  # fmt: skip
    assert seed["acn_minus_best_other_pt"] == 1 and seed["others_minus_acn_network_used_pct"] == -5


def test_baselines_rule_has_both_parts():
    exp = baselines.EXPERIMENT
    acc = [{"acn": 92.0 + d, "residual": 90.3, "densenet": 90.3, "denseformer": 90.4}
           for d in (0.0, 0.2, -0.1)]  # fmt: skip
    paper = [baselines_seed(a, {"acn": u, **FULL}) for a, u in zip(acc, (75.0, 68.75, 75.0))]
    assert verdict(exp, paper) == "holds"  # Table 5: more accurate, 75 % of the network
    all_used = [baselines_seed(a, {"acn": 100.0, **FULL}) for a in acc]
    assert verdict(exp, all_used) == "partly"  # accurate, but no smaller part of the network
    worse = [{**a, "acn": 89.0 + i * 0.1} for i, a in enumerate(acc)]
    assert verdict(exp, [baselines_seed(a, {"acn": 75.0, **FULL}) for a in worse]) == "partly"
    both_fail = [baselines_seed(a, {**FULL, "acn": 100.0, "densenet": 80.0 + i})
                 for i, a in enumerate(worse)]  # fmt: skip
    assert verdict(exp, both_fail) == "does-not-hold"
    assert verdict(exp, paper[:1]) == "inconclusive"


# -- alternatives: non-inferiority within the cutoff's own tolerance ------------------------------


def test_alternatives_is_non_inferiority_with_a_half_point_margin():
    rule = alternatives.EXPERIMENT.rule
    assert alternatives.MARGIN_PT == CUTOFF_TOLERANCE == 0.5 and rule.threshold == -0.5
    assert rule.direction == "greater" and not rule.also

    def gaps(values):
        return [{"acn_cut_minus_best_route_pt": v} for v in values]

    exp = alternatives.EXPERIMENT
    assert verdict(exp, gaps([-0.2, -0.1, -0.3])) == "holds"  # a little worse, within 0.5
    assert verdict(exp, gaps([0.3, 0.5, 0.4])) == "holds"
    assert verdict(exp, gaps([-1.2, -1.0, -1.4])) == "does-not-hold"  # clearly beyond 0.5
    assert verdict(exp, gaps([-1.0, 1.0, 0.2])) == "partly"  # mean inside, interval too wide
    assert verdict(exp, gaps([-2.0, 0.5, -0.8])) == "inconclusive"  # mean beyond the margin
    assert verdict(exp, gaps([0.1])) == "inconclusive"


# -- continual-si15: the headline cell alone, with its own seeds ----------------------------------


def test_continual_headline_cell_is_si_at_depth_15_only():
    (exp,) = continual.OTHER_SETTINGS
    cpu = exp.scales["cpu"].params
    assert continual.methods_of(cpu) == ("si",) and cpu["depths"] == [15]
    # the same data, model and training as continual's cpu cell, only fewer cells
    full = continual.EXPERIMENT.scales["cpu"].params
    assert {k: v for k, v in cpu.items() if k != "methods"} == {**full, "depths": [15]}
    assert continual.methods_of(full) == ("naive", "si")

    def cells(forgetting):  # residual minus ACN forgetting of the one cell, per seed
        return [{"residual_minus_acn_forgetting_pt": v} for v in forgetting]

    assert verdict(exp, cells([18.0, 12.0, 15.0, 20.0, 9.0, 14.0, 16.0, 11.0, 17.0, 13.0])) == (
        "holds")  # fmt: skip
    assert verdict(exp, cells([-4.0, 3.0, -1.0, 2.0, -3.0, 1.0, -2.0, 4.0, -5.0, 0.5])) == (
        "inconclusive")  # fmt: skip
    assert verdict(exp, cells([-6.0, -3.0, -5.0])) == "does-not-hold"
    assert verdict(exp, cells([6.0, -3.0, 5.0])) == "partly"


# -- transfer: the plain residual is a control, not a rival in the rule ---------------------------


def test_transfer_control_row_is_reported_but_not_judged():
    assert transfer.MODELS["residual"] == ("residual", "ce", {})
    assert "residual-upstream" in [a.key for a in transfer.arms()]
    acc = {"acn": 92.0, "res-aligned": 90.0, "res-layerskip": 89.0, "residual": 95.0}
    arms = {f"{m}-downstream": {"accuracy": v} for m, v in acc.items()}
    assert transfer.acn_minus_best_other(arms) == 2.0  # against Aligned and LayerSkip only
    found = {c.name: c.fn(arms) for c in transfer.minus_residual_contrasts()}
    assert found == {"acn_minus_residual_pt": -3.0, "res-aligned_minus_residual_pt": -5.0,
                     "res-layerskip_minus_residual_pt": -6.0}  # fmt: skip


# -- the CIFAR-10 settings: the same claim and rule on the CPU-sized CIFAR-10 Mixer ---------------


def test_cifar_settings_keep_their_experiments_claim_and_rule():
    for module in (compression, difficulty, lowdata):
        (setting,) = module.OTHER_SETTINGS
        assert setting.name == f"{module.EXPERIMENT.name}-cifar"
        assert setting.rule == module.EXPERIMENT.rule and setting.claim == module.EXPERIMENT.claim
        train = setting.scales["cpu"].params["train"]
        assert train["model"] == CIFAR_SMALL["model"]  # the Mixer autocut measured
        assert datasets_in(train) == [CIFAR10]
        assert not datasets_in(setting.scales["smoke"].params)  # smoke: data acn ships


# -- autocut: today's demo Mixer beside the older settings ----------------------------------------


def test_autocut_adds_the_demo_mixer_beside_the_older_settings():
    settings = autocut.EXPERIMENT.scales["cpu"].params["settings"]
    assert list(settings) == ["mnist", "cifar", "cifar_val20", "demo16"]
    assert settings["demo16"] is MNIST_MIXER  # configs/mnist_mixer_acn.yaml's model and recipe
    assert MNIST_MIXER["model"]["overrides"]["depth"] == 16
    assert settings["mnist"]["model"]["overrides"]["dim"] == 48  # the first demo, as it was
    assert settings["cifar"]["data"]["classes"] == 5
    assert settings["cifar_val20"]["auto_cut"]["val_fraction"] == 0.2
