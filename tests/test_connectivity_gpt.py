"""``acn reproduce connectivity-gpt``, the character-GPT setting of the connectivity experiment:
every mode of the gpt family, scored by validation loss (lower is better) through the committed
rules, and its table rendered from synthetic per-seed numbers (the smoke run is in
tests/test_reproduce_smoke.py)."""

from __future__ import annotations

import pytest

from acn.connectivity import MODES
from acn.evaluation.cutoff import LM_TOLERANCE
from acn.experiments.catalog import _wiring_claims as claims
from acn.experiments.catalog import experiments
from acn.experiments.catalog.connectivity import GPT_TRAIN, LOSS, modes_for, table
from acn.experiments.suite import decide_claim, part_verdict

DEPTH = 4


def test_the_setting_is_registered_with_every_gpt_mode_and_scored_by_loss():
    exp = experiments()["connectivity-gpt"]
    assert modes_for(GPT_TRAIN) == list(MODES)  # value-residual included
    assert GPT_TRAIN["model"]["name"] == "gpt_char"
    assert GPT_TRAIN["data"]["options"]["train_windows"] // GPT_TRAIN["batch_size"] == 500
    assert exp.rule.describe == claims.rule(LOSS).describe
    assert not LOSS.higher_is_better and LOSS.margin == LM_TOLERANCE
    assert LOSS.full == "val_loss" and LOSS.cut == "loss_at_cutoff"


def arm(loss, cut_loss, cutoff_high, cut_flops, seed):
    jitter = 0.001 * seed  # seeds differ a little: every interval is finite
    return {"depth": DEPTH, "val_loss": loss + jitter, "loss_at_cutoff": cut_loss + jitter,
            "cutoff": cutoff_high, "cutoff_low": cutoff_high, "cutoff_high": cutoff_high,
            "cut_flops": cut_flops, "cut_flops_fraction": cut_flops / 100, "wiring_params": 0,
            "param_overhead_pct": 0.0, "step_time_ratio": 1.0, "hacn_alpha_mean": 0.3,
            "data": "lm:input.txt"}  # fmt: skip


def synthetic_result():
    """Three seeds: the long-output wirings cut at depth 2, laurel cuts at depth 2 too with a
    cut model better than the full residual and cheaper than ACN's cut (it dominates: a lower
    loss is better), every other mode keeps its full depth."""
    per_seed = []
    for seed in range(3):
        arms = {m: arm(1.95, 1.95, DEPTH, 100.0, seed) for m in MODES}
        arms["residual"] = arm(1.90, 1.90, DEPTH, 100.0, seed)
        for m in ("acn", "acn-dg", "acn-weighted", "hacn"):
            arms[m] = arm(2.00, 2.01, 2, 50.0, seed)
        arms["laurel"] = arm(1.84, 1.85, 2, 40.0, seed)
        contrasts = {c.name: c.fn(arms) for c in claims.contrasts(list(MODES), LOSS)}
        per_seed.append({"seed": seed, "arms": arms, "contrasts": contrasts})
    rule = claims.rule(LOSS)
    return {"name": "connectivity-gpt", "scale": "cpu", "scale_params": {"train": GPT_TRAIN},
            "per_seed": per_seed, "verdict": decide_claim(rule, per_seed)}  # fmt: skip


def test_a_lower_loss_is_the_better_score():
    result = synthetic_result()
    per_seed = result["per_seed"]
    assert per_seed[0]["contrasts"]["gain_over_residual:laurel"] == pytest.approx(0.05)
    assert claims.dominating(per_seed, LOSS.margin) == ["laurel"]
    rule = claims.rule(LOSS)
    # a short-output wiring (laurel) cuts: claim 1 is refuted; claim 2 holds
    assert [part_verdict(p, per_seed) for p in (rule, *rule.also)] == ["does-not-hold", "holds"]


def test_the_table_shows_the_loss_and_names_the_dominating_mode():
    result = synthetic_result()
    text = table(result)
    assert text.count("\n| ") == 1 + len(MODES)
    assert "| mode | val loss (nats/token) |" in text
    assert f"within {LM_TOLERANCE:g} nats/token of the best depth" in text
    assert "| laurel | 1.841 +- 0.001 | 2.0 / 4 |" in text
    assert "dominates both residual and ACN in `connectivity-gpt`: laurel" in text
    with pytest.raises(ValueError, match="--redecide"):
        table({**result, "verdict": "holds"})
