"""The goals of ``acn reproduce lm`` and ``lm-controls`` as rules on seed-paired numbers (95 %
t-intervals over seeds, :func:`acn.experiments.suite.decide`), fixed before any of their numbers.

The arms (see :mod:`.lm`): ``residual`` (nanoGPT's CPU recipe, the 1x budget), the ACN family
``acn-2x``, ``acn-exits-2x`` (ACN + the early-exit loss through the shared head) and ``hacn-2x``
(all at the 2x budget: twice the training windows, the paper's 2:1), and the controls
``residual-2x``, ``residual-layerskip-2x`` and a residual trained from scratch at the G2 model's
cut depth, ``residual-cut-1x`` and ``residual-cut-2x``.

What each arm's numbers hold (the rules read nothing else): ``val_loss`` (validation loss of the
full model, nats/token), ``cutoff`` (the loss cutoff: smallest depth within
:data:`acn.evaluation.cutoff.LM_TOLERANCE` of the best depth's loss) and ``loss_at_cutoff``; from
decoding at batch 1 (:mod:`acn.experiments.decoding`, every decoder timed in one process against
the residual's plain KV-cache decoding): ``best_lossless_speedup`` and ``best_lossless_loss``, the
fastest lossless decoder of the model (plain, self-speculative at any draft depth, the cut
model, or the cut model self-speculatively) and the validation loss of what it decodes (the
full model's, or the cut model's), and ``best_lossless_seconds``, its time in every round.

**The G2 model** of a seed (:func:`g2_model`) is chosen from validation losses only, before any
decoding: the ACN-family arm with the shallowest cut among those whose cut model is within
:data:`G2_MARGIN` of the residual's validation loss (ties: the lower cut loss); if none is, the
one with the lowest cut loss. The controls at the cut depth are trained at its cutoff.

**G1** (``lm``): ``residual_val_loss`` < :data:`G1_LOSS` (nanoGPT reports 1.88): ``holds`` if the
95 % interval over seeds lies below 1.90, ``partly`` if only the mean does.

**G2** (``lm``, two parts): ``g2_speedup``, the G2 model's best lossless tokens/s over the
residual's plain tokens/s (median of the per-round ratios), above :data:`G2_SPEEDUP`; and
``g2_loss_gap``, the loss of what it decodes minus the residual's validation loss, below
:data:`G2_MARGIN` nats. Training budget: 2x the residual's windows. The G2 model being chosen on
validation loss, the loss part is partly its consequence; the speed part is not.

**G2 against the honest controls** (``lm-controls``, three parts, the same G2 model):

- ``loss_gain_over_cut_residual``: the validation loss of ``residual-cut-2x`` (a residual of the
  G2 model's cut depth trained from scratch on as many windows as the G2 model) minus that of what
  the G2 model decodes, above 0. Both decode with the same number of blocks, so the speed is
  equal by construction (reported, not judged): the ACN is worth training only if its cut is the
  better model;
- ``speed_over_layerskip``: the G2 model's best lossless decoding over ``residual-layerskip-2x``'s
  best lossless decoding (its self-speculation at its best draft depth, or plain), per round in
  the same process, above 1.0;
- ``loss_gain_over_layerskip``: LayerSkip's decoded loss minus the G2 model's, above
  -:data:`G2_MARGIN` (G2's equal-quality margin, with LayerSkip in the residual's place).

Reported beside, not judged: the same numbers against ``residual-cut-1x`` and ``residual-2x``.
The parts combine as :func:`acn.experiments.suite.combine` says (all ``holds``: ``holds``).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from ...runs.run import Run
from ..suite import Rule

RESIDUAL = "residual"
ACN_FAMILY = ("acn-2x", "acn-exits-2x", "hacn-2x")
RESIDUAL_2X = "residual-2x"
LAYERSKIP = "residual-layerskip-2x"
CUT_RESIDUAL = "residual-cut-2x"
CUT_RESIDUAL_1X = "residual-cut-1x"
CONTROLS = (RESIDUAL_2X, LAYERSKIP, CUT_RESIDUAL_1X, CUT_RESIDUAL)

G1_LOSS = 1.90  # nats/token; nanoGPT's README reports 1.88 for this recipe
G2_SPEEDUP = 2.0  # x the residual's plain KV-cache tokens/s at batch 1
G2_MARGIN = 0.05  # nats/token: two models this close count as equally good
BUDGET_RATIO = 2.0  # the ACN family's training windows over the residual's (the paper's 2:1)

Numbers = dict[str, dict[str, Any]]  # arm -> number -> value, one seed


# -- the G2 model -----------------------------------------------------------------------------------


def loss_numbers(run: Run) -> dict[str, Any]:
    """What :func:`g2_model` reads of a finished run (its summary)."""
    s = run.summary
    return {"val_loss": s["val_loss"], "cutoff": s["cutoff_depth"],
            "loss_at_cutoff": s["loss_per_depth"][s["cutoff_depth"]]}  # fmt: skip


def g2_model(arms: Numbers) -> str:
    """The ACN-family arm G2 judges in this seed (see the module docstring)."""
    reference = arms[RESIDUAL]["val_loss"]
    within = [a for a in ACN_FAMILY if arms[a]["loss_at_cutoff"] - reference < G2_MARGIN]
    if within:
        return min(within, key=lambda a: (arms[a]["cutoff"], arms[a]["loss_at_cutoff"]))
    return min(ACN_FAMILY, key=lambda a: arms[a]["loss_at_cutoff"])


# -- each seed's numbers -------------------------------------------------------------------------


def paired_speedup(faster: dict[str, Any], slower: dict[str, Any]) -> float:
    """Median over rounds of ``slower``'s best lossless time over ``faster``'s (> 1: faster)."""
    a, b = faster["best_lossless_seconds"], slower["best_lossless_seconds"]
    return statistics.median(s / f for f, s in zip(a, b))


def lm_contrasts(arms: Numbers) -> dict[str, Any]:
    """G1 and G2's quantities, and every ACN-family arm's own G2 numbers (reported)."""
    chosen = g2_model(arms)
    reference = arms[RESIDUAL]["val_loss"]
    out: dict[str, Any] = {
        "residual_val_loss": reference,
        "g2_model": chosen,
        "g2_speedup": arms[chosen]["best_lossless_speedup"],
        "g2_loss_gap": arms[chosen]["best_lossless_loss"] - reference,
        "g2_cutoff": arms[chosen]["cutoff"],
    }
    for arm in ACN_FAMILY:
        out[f"speedup:{arm}"] = arms[arm]["best_lossless_speedup"]
        out[f"loss_gap:{arm}"] = arms[arm]["best_lossless_loss"] - reference
    return out


def controls_contrasts(arms: Numbers) -> dict[str, Any]:
    """The three judged quantities against the controls, and the reported ones."""
    chosen = g2_model(arms)
    mine = arms[chosen]
    out: dict[str, Any] = {"g2_model": chosen, "g2_cutoff": mine["cutoff"]}
    for control in CONTROLS:
        theirs = arms[control]
        out[f"loss_gain_over:{control}"] = theirs["best_lossless_loss"] - mine["best_lossless_loss"]
        out[f"speed_over:{control}"] = paired_speedup(mine, theirs)
    out["loss_gain_over_cut_residual"] = out[f"loss_gain_over:{CUT_RESIDUAL}"]
    out["speed_over_layerskip"] = out[f"speed_over:{LAYERSKIP}"]
    out["loss_gain_over_layerskip"] = out[f"loss_gain_over:{LAYERSKIP}"]
    return out


# -- the rules ----------------------------------------------------------------------------------------


def lm_rule() -> Rule:
    """G1, then G2's two parts."""
    return Rule(
        quantity="residual_val_loss",
        direction="less",
        threshold=G1_LOSS,
        describe=f"G1: the residual gpt_char's validation loss (nanoGPT's CPU recipe, 2,000 "
        f"iterations) below {G1_LOSS:g} nats/token (95% t-interval over seeds)",
        also=(
            Rule(
                quantity="g2_speedup",
                direction="greater",
                threshold=G2_SPEEDUP,
                describe=f"G2 speed: the G2 model (the ACN-family arm, trained {BUDGET_RATIO:g}x "
                "as long, with the shallowest cut within "
                f"{G2_MARGIN:g} nats of the residual's loss, chosen on validation loss) decoded "
                "its fastest lossless way at batch 1, over the residual's plain KV-cache "
                f"tokens/s, above {G2_SPEEDUP:g}x",
            ),
            Rule(
                quantity="g2_loss_gap",
                direction="less",
                threshold=G2_MARGIN,
                describe="G2 quality: the validation loss of what the G2 model decodes minus the "
                f"residual's, below {G2_MARGIN:g} nats/token",
            ),
        ),
    )


def controls_rule() -> Rule:
    """G2 against a residual trained at the cut depth and against residual + LayerSkip."""
    return Rule(
        quantity="loss_gain_over_cut_residual",
        direction="greater",
        threshold=0.0,
        describe="against a residual of the G2 model's cut depth trained from scratch on as "
        "many windows: its validation loss minus that of what the G2 model decodes, above 0 "
        "(same blocks, so the same speed: reported, not judged)",
        also=(
            Rule(
                quantity="speed_over_layerskip",
                direction="greater",
                threshold=1.0,
                describe="against residual + LayerSkip (2x): the G2 model's fastest lossless "
                "decoding over LayerSkip's fastest lossless (self-speculative) decoding, per "
                "round in one process, above 1.0x",
            ),
            Rule(
                quantity="loss_gain_over_layerskip",
                direction="greater",
                threshold=-G2_MARGIN,
                describe="and LayerSkip's decoded validation loss minus the G2 model's, above "
                f"-{G2_MARGIN:g} nats/token (G2's margin)",
            ),
        ),
    )


def part_names(rule: Rule) -> Sequence[str]:
    return [part.quantity for part in (rule, *rule.also)]
