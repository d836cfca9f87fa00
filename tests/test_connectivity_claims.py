"""The two rules of ``acn reproduce connectivity`` on synthetic per-seed numbers: every verdict of
each claim, from arm numbers the way the experiment's contrasts compute them."""

from __future__ import annotations

from typing import Any

import pytest

from acn.experiments.catalog._wiring_claims import (
    ACCURACY,
    Score,
    contrasts,
    cut_verdict,
    dominating,
    rule,
    wiring_classes,
)
from acn.experiments.suite import decide_claim, part_verdict

ARMS = ("residual", "acn", "acn-dg", "acn-weighted", "feedforward", "denseformer", "densenet",
        "hacn", "hyper", "hyper-dynamic", "laurel", "laurel-lr")  # fmt: skip
L = 16
FULL_FLOPS = 5.9e6
BLOCK_FLOPS = 0.36e6


def arm(cutoff_high: int, accuracy: float, cut_accuracy: float | None = None,
        cutoff: int | None = None, **more: Any) -> dict[str, Any]:  # fmt: skip
    cutoff = cutoff_high if cutoff is None else cutoff
    return {"depth": L, "cutoff": cutoff, "cutoff_high": cutoff_high, "accuracy": accuracy,
            "accuracy_at_cutoff": accuracy if cut_accuracy is None else cut_accuracy,
            "cut_flops": FULL_FLOPS - (L - cutoff) * BLOCK_FLOPS, **more}  # fmt: skip


def seed(jitter: float = 0.0, **changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One seed where claim 1 holds and no mode dominates: the long-output arms cut (at 12 of
    16), every other arm keeps its full depth; ``changes`` replaces arms' numbers."""
    arms = {a: arm(L, 96.0 + jitter) for a in ARMS}
    for a in ("acn", "acn-dg", "acn-weighted"):
        arms[a] = arm(12, 96.5 + jitter, 96.2 + jitter)
    arms["hacn"] = arm(13, 96.4 + jitter, 96.1 + jitter, hacn_alpha_mean=0.45 + jitter / 10)
    for a, numbers in changes.items():
        arms[a] = {**arms[a], **numbers}
        if "cut_flops" not in numbers:  # the cut model's FLOPs follow its cutoff
            arms[a]["cut_flops"] = FULL_FLOPS - (L - arms[a]["cutoff"]) * BLOCK_FLOPS
    return arms


def results(seeds: list[dict[str, dict[str, Any]]], score: Score = ACCURACY) -> list[dict]:
    found = contrasts(list(seeds[0]), score)
    return [{"contrasts": {c.name: c.fn(a) for c in found}} for a in seeds]


def claim1(seeds) -> str:
    return part_verdict(rule(ACCURACY), results(seeds))


def claim2(seeds, score: Score = ACCURACY) -> str:
    return part_verdict(rule(score).also[0], results(seeds, score))


JITTERS = (0.0, 0.2, -0.3)


def test_claim1_holds_when_every_long_output_arm_cuts_and_no_other_does():
    seeds = [seed(j) for j in JITTERS]
    assert claim1(seeds) == "holds"
    classes = wiring_classes(results(seeds))
    assert sorted(classes["long"]) == ["acn", "acn-dg", "acn-weighted", "hacn"]
    assert "residual" in classes["short"] and not classes["left_out"]
    # the quantity beside it: blocks saved by the least-cutting long arm (3) minus the most by another
    assert results(seeds)[0]["contrasts"]["cut_separation_blocks"] == 3.0


def test_claim1_does_not_hold_when_a_short_output_arm_cuts():
    seeds = [seed(j, denseformer={"cutoff_high": 14 - (i == 1)}) for i, j in enumerate(JITTERS)]
    assert claim1(seeds) == "does-not-hold"


def test_claim1_is_partly_when_only_some_long_output_arms_cut():
    # acn-dg's cutoff interval reaches L in one seed: over seeds its upper end is not below L
    seeds = [seed(j, **{"acn-dg": {"cutoff_high": c}}) for j, c in zip(JITTERS, (16, 12, 13))]
    assert claim1(seeds) == "partly"


def test_claim1_is_inconclusive_when_no_wiring_cuts():
    seeds = [seed(j, **{a: {"cutoff_high": L} for a in ("acn", "acn-dg", "acn-weighted", "hacn")})
             for j in JITTERS]  # fmt: skip
    assert claim1(seeds) == "inconclusive"


def test_claim1_judges_the_upper_end_of_the_cutoff_interval_not_the_point_cutoff():
    # every long arm's point cutoff is 12, but acn's bootstrap interval reaches the full depth
    seeds = [seed(j, acn={"cutoff": 12, "cutoff_high": L}) for j in JITTERS]
    assert claim1(seeds) == "partly"


def test_claim1_classes_hacn_by_its_learned_alpha():
    # alpha learned down to ~0: hacn is the residual net, so it must not cut ...
    low = [seed(j, hacn={"hacn_alpha_mean": a}) for j, a in zip(JITTERS, (0.01, 0.0, 0.02))]
    assert "hacn" in wiring_classes(results(low))["short"]
    assert claim1(low) == "does-not-hold"  # ... and it does (cutoff_high 13 of 16)
    at_full = [{**s, "hacn": {**s["hacn"], "cutoff_high": L}} for s in low]
    assert claim1(at_full) == "holds"
    # an alpha interval straddling the threshold leaves hacn out of the claim, whatever it does
    unclear = [seed(j, hacn={"hacn_alpha_mean": a, "cutoff_high": L})
               for j, a in zip(JITTERS, (0.01, 0.5, 0.3))]  # fmt: skip
    assert wiring_classes(results(unclear))["left_out"] == ["hacn"]
    assert claim1(unclear) == "holds"


HYPER_WINS = {"cutoff_high": 10, "cutoff": 9, "accuracy": 97.0, "accuracy_at_cutoff": 96.8}


def test_claim2_holds_when_a_mode_beats_residual_accuracy_and_acn_cut_flops():
    seeds = [seed(j, hyper={**HYPER_WINS, "accuracy_at_cutoff": 96.8 + j}) for j in JITTERS]
    assert claim2(seeds) == "holds"
    assert dominating(results(seeds), ACCURACY.margin) == ["hyper"]
    assert [r["contrasts"]["dominating_modes"] for r in results(seeds)] == [1, 1, 1]


def test_claim2_does_not_hold_when_every_mode_is_refuted():
    # the default seed: every candidate keeps its full depth (dearer than ACN's cut) or cuts no
    # lower than ACN; make the cutting ones clearly less accurate than residual
    worse = {"accuracy_at_cutoff": 95.0}
    seeds = [seed(j, **{a: worse for a in ("acn-dg", "acn-weighted", "hacn")}) for j in JITTERS]
    assert claim2(seeds) == "does-not-hold"


def test_claim2_is_partly_when_a_mode_leans_its_way_without_its_intervals():
    noisy = [seed(j, hyper={**HYPER_WINS, "accuracy_at_cutoff": c})
             for j, c in zip(JITTERS, (98.5, 95.5, 97.0))]  # fmt: skip
    assert claim2(noisy) == "partly"


def test_claim2_is_inconclusive_when_no_mode_leans_its_way():
    # hyper: cheaper than ACN's cut, but as accurate as residual on average (not refuted either)
    flat = [seed(j, hyper={**HYPER_WINS, "accuracy_at_cutoff": 96.0 + j + d})
            for j, d in zip(JITTERS, (0.5, -0.9, 0.1))]  # fmt: skip
    assert claim2(flat) == "inconclusive"


def test_claim2_needs_the_mode_not_below_acn_cut_accuracy_beyond_the_margin():
    # more accurate than residual and cheaper than ACN's cut, but clearly less accurate than it
    acn_high = {"acn": {"accuracy_at_cutoff": 98.0}}
    seeds = [seed(j, hyper={**HYPER_WINS, "accuracy_at_cutoff": 96.8 + j}, **acn_high)
             for j in JITTERS]  # fmt: skip
    for s in seeds:
        s["acn"]["accuracy_at_cutoff"] += s["residual"]["accuracy"] - 96.0
    assert dominating(results(seeds), ACCURACY.margin) == []
    # within the margin (0.5 points below ACN's cut) it still dominates
    for s in seeds:
        s["acn"]["accuracy_at_cutoff"] = s["hyper"]["accuracy_at_cutoff"] + 0.3
    assert dominating(results(seeds), ACCURACY.margin) == ["hyper"]


def test_claim2_needs_fewer_flops_than_acn_cut_not_only_than_residual():
    seeds = [seed(j, hyper={**HYPER_WINS, "accuracy_at_cutoff": 96.8 + j, "cut_flops": c})
             for j, c in zip(JITTERS, (4.46e6, 4.5e6, 4.47e6))]  # fmt: skip
    assert dominating(results(seeds), ACCURACY.margin) == []  # ACN's cut: 4.46e6


def test_a_loss_score_is_better_when_lower():
    loss = Score("loss", "cut_loss", False, 0.02, "nats")
    seeds = []
    for j in JITTERS:
        arms = seed(j, hyper=HYPER_WINS)
        for numbers in arms.values():
            numbers["loss"], numbers["cut_loss"] = 1.60 + j / 100, 1.61 + j / 100
        arms["hyper"]["cut_loss"] = 1.55 + j / 100  # lower than residual's and ACN's
        seeds.append(arms)
    assert claim2(seeds, loss) == "holds"
    for arms in seeds:
        arms["hyper"]["cut_loss"] = 1.70  # higher: worse than residual
    assert claim2(seeds, loss) == "does-not-hold"


def test_both_claims_together_and_one_seed_is_inconclusive():
    # a short-output mode can only be cheaper than ACN's cut model by cutting deeper (it has the
    # same blocks), which refutes claim 1: both hold only when a long-output mode dominates
    hyper = [seed(j, hyper={**HYPER_WINS, "accuracy_at_cutoff": 96.8 + j}) for j in JITTERS]
    assert (claim1(hyper), claim2(hyper)) == ("does-not-hold", "holds")
    assert decide_claim(rule(ACCURACY), results(hyper)) == "partly"
    good = [
        seed(j, **{"acn-weighted": {**HYPER_WINS, "accuracy_at_cutoff": 96.8 + j}}) for j in JITTERS
    ]
    assert decide_claim(rule(ACCURACY), results(good)) == "holds"
    assert decide_claim(rule(ACCURACY), results(good[:1])) == "inconclusive"
    only_cut = [seed(j) for j in JITTERS]  # claim 1 holds; claim 2: acn-dg ties ACN's FLOPs
    assert (claim1(only_cut), claim2(only_cut)) == ("holds", "inconclusive")
    assert decide_claim(rule(ACCURACY), results(only_cut)) == "partly"


@pytest.mark.parametrize("verdict", ["holds", "does-not-hold", "partly", "inconclusive"])
def test_the_judge_sees_only_the_contrasts(verdict):
    """cut_verdict reads the seeds' contrasts, so --redecide on a result recomputes it."""
    cases = {
        "holds": [seed(j) for j in JITTERS],
        "does-not-hold": [seed(j, laurel={"cutoff_high": 12}) for j in JITTERS],
        "partly": [seed(j, **{"acn-weighted": {"cutoff_high": c}})
                   for j, c in zip(JITTERS, (16, 16, 11))],
        "inconclusive": [seed(j, **{a: {"cutoff_high": L} for a in ARMS}) for j in JITTERS],
    }  # fmt: skip
    assert cut_verdict(results(cases[verdict])) == verdict
