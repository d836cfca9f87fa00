"""The rules of ``acn reproduce lm`` and ``lm-controls`` on synthetic per-seed numbers: which
model G2 judges, and each part's verdict when it holds, fails or cannot tell (the rules fixed in
``acn.experiments.catalog._lm_claims`` before any number)."""

from __future__ import annotations

import pytest

from acn.experiments.catalog import _lm_claims as claims
from acn.experiments.suite import decide_claim, part_verdict


def arm(val_loss, cutoff, loss_at_cutoff, speedup=1.0, decoded_loss=None, seconds=(1.0,)):
    return {"val_loss": val_loss, "cutoff": cutoff, "loss_at_cutoff": loss_at_cutoff,
            "best_lossless_speedup": speedup,
            "best_lossless_loss": loss_at_cutoff if decoded_loss is None else decoded_loss,
            "best_lossless_seconds": list(seconds)}  # fmt: skip


def family(acn=(2.00, 2, 2.01), exits=(1.95, 3, 1.96), hacn=(1.90, 4, 1.90), residual=1.92):
    """One seed's loss numbers: residual at full depth 4, each ACN-family arm's (val loss,
    cutoff, loss at cutoff)."""
    return {
        claims.RESIDUAL: arm(residual, 4, residual),
        "acn-2x": arm(*acn),
        "acn-exits-2x": arm(*exits),
        "hacn-2x": arm(*hacn),
    }


def test_g2_model_is_the_shallowest_cut_within_the_margin_of_the_residual():
    # residual 1.92: acn's cut (2.01) is 0.09 behind, exits' (1.96) 0.04, hacn's (1.90) ahead
    assert claims.g2_model(family()) == "acn-exits-2x"  # depth 3 beats hacn's 4
    # acn within the margin too, and shallower: acn
    assert claims.g2_model(family(acn=(1.95, 2, 1.965))) == "acn-2x"
    # equal cuts: the lower cut loss wins
    assert claims.g2_model(family(exits=(1.9, 4, 1.93), hacn=(1.9, 4, 1.91))) == "hacn-2x"
    # a gap of exactly the margin is not within it
    assert claims.g2_model(family(acn=(1.97, 1, 1.97), exits=(1.9, 4, 1.95))) == "hacn-2x"


def test_g2_model_without_a_model_within_the_margin_is_the_lowest_cut_loss():
    arms = family(acn=(2.1, 1, 2.10), exits=(2.0, 2, 2.05), hacn=(2.0, 4, 2.00), residual=1.8)
    assert claims.g2_model(arms) == "hacn-2x"


def test_g2_model_reads_only_validation_losses_never_speed():
    slow = family()
    fast = family()
    fast["acn-2x"]["best_lossless_speedup"] = 9.0
    fast["acn-2x"]["best_lossless_loss"] = 1.0
    assert claims.g2_model(slow) == claims.g2_model(fast) == "acn-exits-2x"


def test_paired_speedup_is_the_median_of_the_per_round_ratios():
    mine = arm(2, 1, 2, seconds=(1.0, 2.0, 1.0))
    theirs = arm(2, 1, 2, seconds=(3.0, 2.0, 4.0))  # ratios 3, 1, 4
    assert claims.paired_speedup(mine, theirs) == 3.0
    assert claims.paired_speedup(theirs, mine) == pytest.approx(1 / 3)


def seed_result(seed, arms, contrasts):
    return {"seed": seed, "arms": arms, "contrasts": contrasts(arms)}


def lm_seeds(residual_losses, speedups, gaps):
    """Per-seed results whose residual loss, G2 speedup and G2 loss gap are the given values
    (the G2 model is acn-exits-2x in every seed)."""
    out = []
    for seed, (res, speed, gap) in enumerate(zip(residual_losses, speedups, gaps)):
        arms = family(residual=res, exits=(res, 2, res + 0.01), acn=(res + 1, 1, res + 1),
                      hacn=(res, 4, res))  # fmt: skip
        arms["acn-exits-2x"].update(best_lossless_speedup=speed, best_lossless_loss=res + gap)
        out.append(seed_result(seed, arms, claims.lm_contrasts))
    return out


def verdicts(rule, per_seed):
    return [part_verdict(part, per_seed) for part in (rule, *rule.also)]


def test_lm_contrasts_read_the_g2_model():
    [row] = lm_seeds([1.85], [2.5], [0.02])
    c = row["contrasts"]
    assert c["g2_model"] == "acn-exits-2x" and c["g2_cutoff"] == 2
    assert c["g2_speedup"] == 2.5 and c["g2_loss_gap"] == pytest.approx(0.02)
    assert c["residual_val_loss"] == 1.85
    assert c["speedup:hacn-2x"] == 1.0 and c["loss_gap:acn-2x"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("residual", "speed", "gap", "expected", "claim"),
    [
        # every part's interval on the claimed side
        ([1.86, 1.87, 1.88], [2.5, 2.6, 2.7], [0.00, 0.01, 0.02], ["holds"] * 3, "holds"),
        # every part's interval on the other side
        ([1.95, 1.96, 1.97], [1.2, 1.3, 1.4], [0.10, 0.12, 0.11], ["does-not-hold"] * 3,
         "does-not-hold"),
        # G1 holds, G2 speed fails, G2 loss only by its mean (wide interval)
        ([1.86, 1.87, 1.88], [1.2, 1.3, 1.4], [-0.1, 0.0, 0.2],
         ["holds", "does-not-hold", "partly"], "partly"),
        # G1's mean above 1.90 with an interval across it
        ([1.80, 1.90, 2.10], [2.5, 2.6, 2.7], [0.0, 0.01, 0.02],
         ["inconclusive", "holds", "holds"], "partly"),
    ],
)  # fmt: skip
def test_lm_rule(residual, speed, gap, expected, claim):
    per_seed = lm_seeds(residual, speed, gap)
    assert verdicts(claims.lm_rule(), per_seed) == expected
    assert decide_claim(claims.lm_rule(), per_seed) == claim


def test_lm_rule_with_one_seed_is_inconclusive():
    per_seed = lm_seeds([1.5], [9.0], [0.0])
    assert decide_claim(claims.lm_rule(), per_seed) == "inconclusive"


def controls_arms(cut_loss, layerskip_loss, rounds_g2, rounds_layerskip):
    """One seed: the G2 model (acn-exits-2x, cut 2, decoded loss 1.90) and the controls."""
    arms = family(residual=1.92, exits=(1.9, 2, 1.90), acn=(2.5, 1, 2.5), hacn=(1.9, 4, 1.9))
    arms["acn-exits-2x"]["best_lossless_seconds"] = list(rounds_g2)
    arms[claims.CUT_RESIDUAL] = arm(cut_loss, 2, cut_loss)
    arms[claims.CUT_RESIDUAL_1X] = arm(cut_loss + 0.1, 2, cut_loss + 0.1)
    arms[claims.RESIDUAL_2X] = arm(1.88, 4, 1.88, seconds=(2.0, 2.0))
    arms[claims.LAYERSKIP] = arm(layerskip_loss, 4, layerskip_loss, seconds=rounds_layerskip)
    return arms


def test_controls_contrasts():
    arms = controls_arms(1.95, 1.93, (1.0, 1.0, 2.0), (2.0, 3.0, 2.0))
    c = claims.controls_contrasts(arms)
    assert c["g2_model"] == "acn-exits-2x" and c["g2_cutoff"] == 2
    assert c["loss_gain_over_cut_residual"] == pytest.approx(0.05)
    assert c["loss_gain_over_layerskip"] == pytest.approx(0.03)
    assert c["speed_over_layerskip"] == 2.0  # ratios 2, 3, 1
    assert c[f"loss_gain_over:{claims.RESIDUAL_2X}"] == pytest.approx(-0.02)


@pytest.mark.parametrize(
    ("cut", "layerskip", "layerskip_rounds", "expected", "claim"),
    [
        ([1.95, 1.96, 1.97], [1.90, 1.91, 1.92], [(2.0,), (2.1,), (2.2,)],
         ["holds"] * 3, "holds"),
        ([1.80, 1.81, 1.82], [1.70, 1.71, 1.72], [(0.5,), (0.6,), (0.55,)],
         ["does-not-hold"] * 3, "does-not-hold"),
        # the cut residual as good as the G2 model (interval across 0); LayerSkip faster
        ([1.85, 1.90, 1.96], [1.90, 1.91, 1.92], [(0.5,), (0.6,), (0.55,)],
         ["partly", "does-not-hold", "holds"], "partly"),
    ],
)  # fmt: skip
def test_controls_rule(cut, layerskip, layerskip_rounds, expected, claim):
    per_seed = [
        seed_result(s, controls_arms(c, ls, (1.0,), r), claims.controls_contrasts)
        for s, (c, ls, r) in enumerate(zip(cut, layerskip, layerskip_rounds))
    ]
    assert verdicts(claims.controls_rule(), per_seed) == expected
    assert decide_claim(claims.controls_rule(), per_seed) == claim
