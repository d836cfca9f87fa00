"""``acn reproduce demo``: ``acn demo`` on every seed, with the project's goal as its rule.

The same arms as ``acn demo`` (:mod:`acn.experiments.demo`): a residual and an ACN Mixer of the
same preset, parameters, data, seed and recipe, and the ACN trained with ``--auto-cut`` (its
validation split carved from the training digits). Per seed: accuracy at every depth, each arm's
cutoff, what the cut model costs and what training cost.

The goal: a deployable ACN at <= 60 % of the full model's FLOPs within 0.5 points of the full
residual, on at least 4 of 5 seeds. It is judged on the auto-cut arm, the tool built for it: its
final model, as trained, against the full residual (``autocut_goal_met`` per seed). Until this
rule the goal was judged on the plain ACN cut at its test-set cutoff (within 0.5 points of its own
full accuracy), which needed 75 % of the FLOPs: the paper's own AC-Mixer figure (12 of 16 blocks,
Table 5), which the plain arm's share of the network still shows beside the goal.

The README's seed table and seed-0 depth table are generated from the result (``demo-seeds`` and
``demo-depth`` blocks).
"""

from __future__ import annotations

from typing import Any

from ..demo import ARMS, GOAL_FLOPS, GOAL_POINTS
from ..figures import mean_std
from ..measures import (
    ACCURACY,
    ACCURACY_AT_CUTOFF,
    ACCURACY_PER_DEPTH,
    CUT_FLOPS_FRACTION,
    CUTOFF,
    DATA,
    DEPTH,
    FLOPS,
    NETWORK_USED_PCT,
    PARAMS,
    TRAIN_TIME_S,
    summary_measure,
)
from ..recipes import MNIST_MIXER, SMOKE
from ..study import Arm, Contrast, Curve, study
from ..suite import Claim, Rule, Scale, SeedResult

GOAL_SEEDS = 0.8  # the goal must be met on at least this fraction of the seeds (4 of 5)
TRAIN_FLOPS = summary_measure("train_flops", "total_train_flops", higher_is_better=False)


def goal_verdict(met: list[float]) -> str:
    """``holds`` if at least 80% of seeds meet the goal (1.0 per seed that does), ``partly`` if
    at least half do, else ``does-not-hold`` (the suite makes a single seed ``inconclusive``
    before this rule is asked)."""
    share = sum(v >= 1.0 for v in met) / len(met)
    return "holds" if share >= GOAL_SEEDS else "partly" if share >= 0.5 else "does-not-hold"


def autocut_flops_fraction(a: dict[str, dict[str, Any]]) -> float:
    """FLOPs of the auto-cut arm's final model over the full residual's."""
    return a["acn_autocut"]["flops"] / a["residual"]["flops"]


def autocut_minus_residual(a: dict[str, dict[str, Any]]) -> float:
    """Accuracy of the auto-cut arm's final model minus the full residual's (points)."""
    return a["acn_autocut"]["accuracy"] - a["residual"]["accuracy"]


def goal_met(a: dict[str, dict[str, Any]]) -> float:
    """1.0 if the auto-cut ACN needs <= 60% of the FLOPs within 0.5 points of the residual."""
    ok = autocut_flops_fraction(a) <= GOAL_FLOPS and autocut_minus_residual(a) >= -GOAL_POINTS
    return 1.0 if ok else 0.0


def summarize(per_seed: list[SeedResult]) -> dict[str, Any]:
    met = sum(r["contrasts"]["autocut_goal_met"] >= 1.0 for r in per_seed)
    return {"seeds_meeting_goal": f"{met} of {len(per_seed)}"}


def seeds_table(result: dict[str, Any]) -> str:
    """The README's markdown table of the result: one row per seed, then mean +- std (with the
    auto-cut arm's columns when the result has that arm)."""
    rows = result["per_seed"]
    depth = rows[0]["arms"]["acn"]["depth"]
    autocut = "acn_autocut" in rows[0]["arms"]
    header = ("| seed | residual acc (%) | residual cutoff | ACN acc (%) | ACN cutoff "
              "| ACN acc at cutoff (%) | cut ACN / full FLOPs |")  # fmt: skip
    rule = "|---|---|---|---|---|---|---|"
    if autocut:
        header += " ACN+auto-cut acc (%) | its depth | its FLOPs / residual's | goal met |"
        rule += "---|---|---|---|"
    lines = [header, rule]
    for r in rows:
        res, a = r["arms"]["residual"], r["arms"]["acn"]
        line = (
            f"| {r['seed']} | {res['accuracy']:.2f} | {res['cutoff']}/{depth} "
            f"| {a['accuracy']:.2f} | {a['cutoff']}/{depth} "
            f"| {a['accuracy_at_cutoff']:.2f} | {a['cut_flops_fraction']:.0%} |"
        )
        if autocut:
            cut, c = r["arms"]["acn_autocut"], r["contrasts"]
            line += (
                f" {cut['accuracy']:.2f} | {cut['depth']}/{depth} "
                f"| {c['autocut_flops_fraction']:.0%} | {'yes' if c['autocut_goal_met'] else 'no'} |"
            )
        lines.append(line)

    def ms(arm: str, key: str, fmt: str, where: str = "arms") -> str:
        if where == "arms":
            values = [[float(r["arms"][arm][key])] for r in rows]
        else:
            values = [[float(r["contrasts"][key])] for r in rows]
        (mean,), (std,) = mean_std(values)
        return f"{format(mean, fmt)} +- {format(std, fmt)}"

    last = (
        f"| mean +- std | {ms('residual', 'accuracy', '.2f')} "
        f"| {ms('residual', 'cutoff', '.1f')} | {ms('acn', 'accuracy', '.2f')} "
        f"| {ms('acn', 'cutoff', '.1f')} | {ms('acn', 'accuracy_at_cutoff', '.2f')} "
        f"| {ms('acn', 'cut_flops_fraction', '.0%')} |"
    )
    if autocut:
        met = sum(r["contrasts"]["autocut_goal_met"] >= 1.0 for r in rows)
        last += (
            f" {ms('acn_autocut', 'accuracy', '.2f')} | {ms('acn_autocut', 'depth', '.1f')} "
            f"| {ms('', 'autocut_flops_fraction', '.0%', 'contrasts')} | {met} of {len(rows)} |"
        )
    lines.append(last)
    return "\n".join(lines)


def depth_table(seed_result: SeedResult) -> str:
    """Markdown table of one seed's accuracy at every depth, the cutoffs in bold (the auto-cut
    arm up to the depth it ended at)."""
    depth = seed_result["arms"]["acn"]["depth"]
    lines = [
        "| depth | " + " | ".join(str(k) for k in range(depth + 1)) + " |",
        "|---|" + "---|" * (depth + 1),
    ]
    names = (("residual", "residual"), ("acn", "ACN"), ("acn_autocut", "ACN+auto-cut"))
    for arm_key, name in names:
        if arm_key not in seed_result["arms"]:
            continue
        arm = seed_result["arms"][arm_key]
        acc, k = arm["accuracy_per_depth"], arm["cutoff"]
        cells = [f"**{a:.1f}**" if i == k else f"{a:.1f}" for i, a in enumerate(acc)]
        cells += [""] * (depth + 1 - len(cells))
        lines.append(f"| {name} (%) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


EXPERIMENT = study(
    name="demo",
    title="The demo on every seed",
    claim=Claim(
        text="(acn's goal) `acn demo` ends with a deployable ACN, the one trained with "
        f"--auto-cut, that needs at most {GOAL_FLOPS:.0%} of the full model's FLOPs within "
        f"{GOAL_POINTS:g} points of the full residual's accuracy, on at least 4 of 5 seeds",
        paper="the paper's nearest claim: AC-ViT reaches top accuracy with 6 of 12 layers "
        "(ImageNet); AC-Mixer 12 of 16 on CIFAR-10",
        kind="goal",
        figure="the AC-Mixer uses 12 of its 16 blocks (75 % of the network) at its cutoff "
        "(paper Table 5): the plain ACN arm's share",
        figure_quantity="acn_network_used_pct",
    ),
    rule=Rule(
        quantity="autocut_goal_met",
        direction="greater",
        threshold=0.5,
        describe=f"per seed 1 if the auto-cut ACN's final model needs <= {GOAL_FLOPS:.0%} of the "
        f"full residual's FLOPs and is at most {GOAL_POINTS:g} points below its accuracy, else "
        "0; holds if met on >= 80% of seeds, partly if on >= half, else does-not-hold",
        verdict_fn=goal_verdict,
    ),
    arms=tuple(Arm(arm, conn, changes or None) for arm, (conn, changes) in ARMS.items()),
    measures=(
        ACCURACY,
        CUTOFF,
        ACCURACY_AT_CUTOFF,
        CUT_FLOPS_FRACTION,
        NETWORK_USED_PCT,
        ACCURACY_PER_DEPTH,
        TRAIN_TIME_S,
        TRAIN_FLOPS,
        DEPTH,
        DATA,
        PARAMS,
        FLOPS,
    ),  # fmt: skip
    contrasts=(
        Contrast("autocut_goal_met", goal_met),
        Contrast("autocut_flops_fraction", autocut_flops_fraction),
        Contrast("autocut_minus_residual_pt", autocut_minus_residual),
        Contrast(
            "autocut_train_flops_ratio",
            lambda a: a["acn_autocut"]["train_flops"] / a["residual"]["train_flops"],
        ),
        Contrast.value("acn_network_used_pct", NETWORK_USED_PCT, "acn"),
        Contrast.gain("acn_minus_residual_pt", ACCURACY, "acn", over="residual"),
        Contrast(
            "acn_cut_minus_residual_full_pt",
            lambda a: a["acn"]["accuracy_at_cutoff"] - a["residual"]["accuracy"],
        ),
        Contrast.value("acn_cut_flops_fraction", CUT_FLOPS_FRACTION, "acn"),
    ),  # fmt: skip
    curves=(
        Curve(
            "accuracy_vs_depth.png",
            "accuracy_per_depth",
            arms=("residual", "acn"),  # the auto-cut arm ends at a different depth per seed
            title=lambda rows: f"acn demo on {len(rows)} seeds: mean +-1 std (star: mean cutoff)",
            xlabel="depth k (blocks used, shared head)",
            ylabel="test accuracy (%)",
            marks="cutoff",
        ),
    ),
    summarize=summarize,
    readme={"demo-seeds": seeds_table, "demo-depth": lambda r: depth_table(r["per_seed"][0])},
    scales={
        "smoke": Scale(params={"train": SMOKE}, changes="3-block Mixer, 200 digits, 1 epoch"),
        "cpu": Scale(
            params={"train": MNIST_MIXER},
            changes="exactly `acn demo --seed S` (the runs also log the DG share, which "
            "changes no training step)",
        ),
    },
)
