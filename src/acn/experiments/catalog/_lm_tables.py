"""The README / REPORT.md tables of ``acn reproduce lm`` and ``lm-controls``, rendered from a
result's per-seed numbers alone (each verdict re-decided by the rule from them and checked
against the stored one, so a hand-edited verdict cannot be shown)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..suite import Rule, SeedResult, combine, interval, part_verdict
from . import _lm_claims as claims


def part_verdicts(result: dict[str, Any], rule: Rule) -> list[str]:
    """Each part's verdict by ``rule`` on the result's per-seed numbers; a result whose stored
    verdict is not what they combine to cannot be shown."""
    found = [part_verdict(part, result["per_seed"]) for part in (rule, *rule.also)]
    if combine(found) != result["verdict"]:
        raise ValueError(
            f"its verdict {result['verdict']!r} is not what the current rule decides from its "
            f"numbers ({', '.join(found)}): run `acn reproduce {result['name']} --redecide`"
        )
    return found


def _values(per_seed: Sequence[SeedResult], arm: str, key: str) -> list[float]:
    return [r["arms"][arm][key] for r in per_seed if r["arms"].get(arm, {}).get(key) is not None]


def _pm(values: Sequence[float], digits: int = 3) -> str:
    if not values:
        return "-"
    iv = interval([float(v) for v in values])
    if iv.std is None:
        return f"{iv.mean:.{digits}f}"
    return f"{iv.mean:.{digits}f} +- {iv.std:.{digits}f}"


def _speed(values: Sequence[float]) -> str:
    return f"{_pm(values, 2)}x" if values else "-"


def _mean(values: Sequence[float], digits: int = 2) -> str:
    return f"{sum(values) / len(values):.{digits}f}" if values else "-"


def quantity(result: dict[str, Any], name: str, digits: int = 3) -> str:
    """A contrast's mean +- std and 95 % interval over seeds."""
    values = [r["contrasts"][name] for r in result["per_seed"]]
    iv = interval([float(v) for v in values])
    if iv.std is None:
        return f"{iv.mean:.{digits}f} (one seed)"
    return (f"{iv.mean:.{digits}f} +- {iv.std:.{digits}f} (95% interval [{iv.low:.{digits}f}, "
            f"{iv.high:.{digits}f}])")  # fmt: skip


def _depths(per_seed: Sequence[SeedResult], arm: str) -> str:
    curves = [r["arms"][arm]["loss_per_depth"][1:] for r in per_seed]
    if len({len(c) for c in curves}) != 1:
        return "(depth differs by seed)"
    return " ".join(f"{sum(c[k] for c in curves) / len(curves):.2f}" for k in range(len(curves[0])))


def _cutoff(per_seed: Sequence[SeedResult], arm: str) -> str:
    depth = _mean(_values(per_seed, arm, "depth"), 1)
    low, high = _values(per_seed, arm, "cutoff_low"), _values(per_seed, arm, "cutoff_high")
    return (f"{_mean(_values(per_seed, arm, 'cutoff'), 1)} / {depth} "
            f"[{_mean(low, 1)}, {_mean(high, 1)}]")  # fmt: skip


def _spec(per_seed: Sequence[SeedResult], arm: str) -> str:
    ks = _values(per_seed, arm, "spec_best_k")
    if not ks:
        return "-"
    rate = _mean(_values(per_seed, arm, "spec_acceptance_rate"))
    accepted = _mean(_values(per_seed, arm, "spec_mean_accepted_length"))
    return (f"K={'/'.join(str(k) for k in ks)}: {_pm(_values(per_seed, arm, 'spec_speedup'), 2)}x"
            f", {rate} accepted, {accepted} a round")  # fmt: skip


def _best(per_seed: Sequence[SeedResult], arm: str) -> str:
    names = [r["arms"][arm]["best_lossless_decoder"] for r in per_seed if arm in r["arms"]]
    speed = _pm(_values(per_seed, arm, "best_lossless_speedup"), 2)
    loss = _pm(_values(per_seed, arm, "best_lossless_loss"))
    return f"{'/'.join(dict.fromkeys(names))}: {speed}x, loss {loss}"


def _exits(per_seed: Sequence[SeedResult], arm: str, thresholds: Sequence[float]) -> str:
    speeds = _values(per_seed, arm, "exit_speedup")
    costs = _values(per_seed, arm, "exit_loss_cost")
    if not speeds:
        return "-"
    cells = []
    for i, c in enumerate(thresholds):
        s = _mean([row[i] for row in speeds])
        cost = _mean([row[i] for row in costs], 3)
        cells.append(f"{c:g}: {s}x, +{cost}")
    return "; ".join(cells)


def _identical(per_seed: Sequence[SeedResult]) -> bool:
    return all(n.get("lossless_identical", True) for r in per_seed for n in r["arms"].values())


def _chosen(per_seed: Sequence[SeedResult]) -> str:
    """The G2 model of every seed and its cut depth."""
    return ", ".join(
        f"seed {r['seed']}: {r['contrasts']['g2_model']} (cut at {r['contrasts']['g2_cutoff']})"
        for r in per_seed
    )


def _header(result: dict[str, Any], what: str) -> list[str]:
    per_seed = result["per_seed"]
    first = per_seed[0]["arms"][claims.RESIDUAL]
    decode = result["scale_params"]["decode"]
    threads = sorted({r["arms"][claims.RESIDUAL].get("decode_threads") for r in per_seed})
    return [
        f"`{result['name']}` ({result['scale']} scale): {first['data']}; {len(per_seed)} seeds, "
        f"mean +- std over seeds. {what} Decoding: greedy, batch 1, {decode['prompts']} "
        f"validation prompts of {decode['prompt_tokens']} tokens, {decode['new_tokens']} new "
        f"tokens each, every decoder timed in one process over {decode['repeats']} interleaved "
        f"rounds ({'/'.join(str(t) for t in threads)} torch thread(s)); a speedup is the median "
        "of the per-round ratios to the residual's plain KV-cache decoding. Loss cutoff: the "
        "smallest depth within 0.02 nats of the best depth's loss, with the mean over seeds of "
        "its bootstrap 95% interval over the validation windows.",
        "",
    ]


def lm_table(result: dict[str, Any]) -> str:
    per_seed = result["per_seed"]
    g1, g2_speed, g2_loss = part_verdicts(result, claims.lm_rule())
    steps = {a: _mean(_values(per_seed, a, "steps"), 0) for a in per_seed[0]["arms"]}
    thresholds = result["scale_params"]["decode"]["thresholds"]
    rows = _header(result, "Training: residual 1x, the ACN family 2x (twice the windows).") + [
        "| arm | steps | val loss | loss at depth 1..L | cutoff / L [interval] | cut loss | "
        "plain | best self-speculative: K, speedup, acceptance, accepted a round | cut model | "
        "fastest lossless: decoder, speedup, loss | early exit C: speedup, loss cost |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for arm in per_seed[0]["arms"]:
        rows.append(
            f"| {arm} | {steps[arm]} | {_pm(_values(per_seed, arm, 'val_loss'))} | "
            f"{_depths(per_seed, arm)} | {_cutoff(per_seed, arm)} | "
            f"{_pm(_values(per_seed, arm, 'loss_at_cutoff'))} | "
            f"{_speed(_values(per_seed, arm, 'plain_speedup'))} | {_spec(per_seed, arm)} | "
            f"{_speed(_values(per_seed, arm, 'cut_speedup'))} | "
            f"{_best(per_seed, arm)} | {_exits(per_seed, arm, thresholds)} |"
        )  # fmt: skip
    reference = [r["contrasts"]["residual_val_loss"] for r in per_seed]
    rows += [
        "",
        f"**G1** (residual validation loss below {claims.G1_LOSS:g} nats, the 95% interval "
        f"over seeds): **{g1}**; {quantity(result, 'residual_val_loss')}; the mean is "
        f"{'at or below' if sum(reference) / len(reference) <= claims.G1_LOSS else 'above'} "
        f"{claims.G1_LOSS:g}.",
        "",
        f"**G2** (the G2 model decoded losslessly at >= {claims.G2_SPEEDUP:g}x the residual's "
        f"plain tokens/s, its loss within {claims.G2_MARGIN:g} nats; trained "
        f"{claims.BUDGET_RATIO:g}x as long): speed **{g2_speed}**, "
        f"{quantity(result, 'g2_speedup', 2)}x; quality **{g2_loss}**, loss gap "
        f"{quantity(result, 'g2_loss_gap')} nats. The G2 model (chosen per seed on validation "
        f"loss: the shallowest cut within {claims.G2_MARGIN:g} nats of the residual): "
        f"{_chosen(per_seed)}.",
        "",
        "Greedy self-speculative decoding gave the plain decoding's tokens in every arm and "
        f"seed: **{'yes' if _identical(per_seed) else 'NO'}**.",
    ]  # fmt: skip
    return "\n".join(rows)


def controls_table(result: dict[str, Any]) -> str:
    per_seed = result["per_seed"]
    cut, speed, loss = part_verdicts(result, claims.controls_rule())
    chosen = [r["contrasts"]["g2_model"] for r in per_seed]
    g2 = [dict(r, arms={**r["arms"], "G2 model": r["arms"][c]}) for r, c in zip(per_seed, chosen)]
    rows = _header(result, "Training: residual 1x; G2 model and controls as named.") + [
        "| model | steps | blocks decoded | fastest lossless decoder | speedup over residual "
        "plain | val loss of what it decodes | G2 model's loss gain over it | G2 model's "
        "speed over it |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arm in (claims.RESIDUAL, "G2 model", *claims.CONTROLS):
        gain = speed_over = "-"
        if arm in claims.CONTROLS:
            gain = _pm([r["contrasts"][f"loss_gain_over:{arm}"] for r in per_seed])
            speed_over = _pm([r["contrasts"][f"speed_over:{arm}"] for r in per_seed], 2) + "x"
        names = "/".join(dict.fromkeys(r["arms"][arm]["best_lossless_decoder"] for r in g2))
        rows.append(
            f"| {arm} | {_mean(_values(g2, arm, 'steps'), 0)} | "
            f"{_mean(_values(g2, arm, 'best_lossless_blocks'), 1)} | {names} | "
            f"{_pm(_values(g2, arm, 'best_lossless_speedup'), 2)}x | "
            f"{_pm(_values(g2, arm, 'best_lossless_loss'))} | {gain} | {speed_over} |"
        )
    rows += [
        "",
        f"G2 model per seed: {_chosen(per_seed)}; the cut-depth residuals are trained at "
        "that depth.",
        "",
        f"**Against a residual of the cut depth trained from scratch** ({claims.CUT_RESIDUAL}, "
        f"as many windows): **{cut}**; its loss minus the G2 model's "
        f"{quantity(result, 'loss_gain_over_cut_residual')} nats (above 0 claimed).",
        "",
        f"**Against residual + LayerSkip** ({claims.LAYERSKIP}): speed **{speed}**, "
        f"{quantity(result, 'speed_over_layerskip', 2)}x (above 1 claimed); quality **{loss}**, "
        f"its loss minus the G2 model's {quantity(result, 'loss_gain_over_layerskip')} nats "
        f"(above -{claims.G2_MARGIN:g} claimed).",
    ]  # fmt: skip
    return "\n".join(rows)
