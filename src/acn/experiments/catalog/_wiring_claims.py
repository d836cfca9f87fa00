"""The two claims of ``acn reproduce connectivity``, as rules on seed-paired numbers (95 %
t-intervals over seeds, :func:`acn.experiments.suite.interval`), fixed before any of its numbers.

Every arm is one connectivity mode of the same model, data and recipe. What each seed's result
holds per arm (the numbers below read nothing else): ``depth`` L, ``cutoff_high`` (the upper end
of the bootstrap 95 % interval of the cutoff depth over the test samples), the full model's and
the cut model's score, ``cut_flops`` (FLOPs per sample of the model cut at its cutoff, wiring
included) and, for hacn, ``hacn_alpha_mean`` (its learned alphas averaged over blocks).

**Claim 1: only long-output wirings cut below full depth at equal accuracy.** An arm *cuts* when
the 95 % interval over seeds of ``depth_saved:ARM`` = L - ``cutoff_high`` lies above 0, i.e. the
upper end of its cutoff interval is below L both over test samples (bootstrap) and over seeds.
The long-output wirings are acn, acn-dg and acn-weighted, and hacn when its learned alpha is
above :data:`HACN_LONG_ALPHA` (interval low end); an hacn whose alpha interval lies below it is a
short-output wiring (the residual net at alpha = 0), and one whose interval straddles it is left
out of the claim. Verdict: ``does-not-hold`` if any short-output arm cuts; else ``holds`` if
every long-output arm cuts, ``partly`` if some do, ``inconclusive`` if none does (no wiring
cuts: nothing tells them apart). Each seed's quantity ``cut_separation_blocks`` (reported beside
the verdict, not judged) is the least depth saved by a long-output arm minus the most saved by
any other (hacn classed by its alpha in that seed).

**Claim 2: a mode on the Pareto front dominates both residual and ACN.** A candidate is any arm
but residual and acn. It *dominates* when three seed-paired intervals all lie on its side:

- ``gain_over_residual:M``: its cut model's score minus residual's full score, above 0 (more
  accurate than the residual network; residual keeps its full depth);
- ``gain_over_acn_cut:M``: its cut score minus ACN's cut score, above -:attr:`Score.margin` (not
  less accurate than ACN's cut model beyond the cutoff's own tolerance: the margin the cut ACN is
  itself allowed against its full model);
- ``flops_minus_acn_cut:M``: its cut FLOPs minus ACN's cut FLOPs, below 0 (cheaper than ACN's cut
  model, which is never dearer than the full residual: same blocks, no wiring FLOPs).

A candidate is *refuted* when one of the three intervals lies wholly on the other side. Verdict:
``holds`` if some candidate dominates (it is then on the Pareto front of cut score against cut
FLOPs, above both references), ``does-not-hold`` if every candidate is refuted, ``partly`` if
some candidate has all three means on its side, else ``inconclusive``. The 95 % intervals are
per candidate, not corrected for testing ten or more of them: a single ``holds`` is read with
that in mind (the report names the modes). Each seed's quantity ``dominating_modes`` counts the
candidates that dominate in that seed alone (reported, not judged).

A language model's score is its validation loss (lower is better; the margin is the loss
cutoff's tolerance in nats): :class:`Score` orients every gain so that positive is better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...train.summary import CUTOFF_TOLERANCE
from ..study import Contrast
from ..suite import Interval, Rule, interval

LONG_OUTPUT = ("acn", "acn-dg", "acn-weighted")  # hacn joins them when its alpha is above:
HACN_LONG_ALPHA = 0.05  # g = 1 - alpha keeps at most 95 % of the short path
REFERENCES = ("residual", "acn")

Numbers = dict[str, dict[str, Any]]  # arm -> number -> value, one seed


@dataclass(frozen=True)
class Score:
    """Which arm numbers hold the full and the cut model's score, whether higher is better, and
    the margin (in the score's unit) within which two scores count as equal."""

    full: str
    cut: str
    higher_is_better: bool
    margin: float
    unit: str

    def gain(self, a: float, b: float) -> float:
        """How much better score ``a`` is than ``b`` (positive: better)."""
        return a - b if self.higher_is_better else b - a


ACCURACY = Score("accuracy", "accuracy_at_cutoff", True, CUTOFF_TOLERANCE, "points")


# -- each seed's numbers -------------------------------------------------------------------------


def depth_saved(arm: dict[str, Any]) -> float:
    """Blocks left out below the upper end of the arm's cutoff interval."""
    return float(arm["depth"] - arm["cutoff_high"])


def is_long_in_seed(arm: str, arms: Numbers) -> bool:
    if arm == "hacn":
        return arms[arm]["hacn_alpha_mean"] > HACN_LONG_ALPHA
    return arm in LONG_OUTPUT


def cut_separation(arms: Numbers) -> float:
    """Least depth saved by a long-output arm minus the most saved by any other (this seed)."""
    long = [depth_saved(v) for a, v in arms.items() if is_long_in_seed(a, arms)]
    other = [depth_saved(v) for a, v in arms.items() if not is_long_in_seed(a, arms)]
    return min(long) - max(other)


def candidates(arms: Sequence[str]) -> list[str]:
    return [a for a in arms if a not in REFERENCES]


def dominates_in_seed(arms: Numbers, m: str, score: Score) -> bool:
    res, acn, mine = arms["residual"], arms["acn"], arms[m]
    return (
        score.gain(mine[score.cut], res[score.full]) > 0
        and score.gain(mine[score.cut], acn[score.cut]) > -score.margin
        and mine["cut_flops"] < acn["cut_flops"]
    )


def contrasts(arms: Sequence[str], score: Score) -> list[Contrast]:
    """The seed-paired numbers both rules read (every one gets its interval in the result)."""
    out = [
        Contrast("cut_separation_blocks", cut_separation),
        Contrast("dominating_modes", lambda a: sum(dominates_in_seed(a, m, score)
                                                     for m in candidates(list(a)))),
    ]  # fmt: skip
    out += [Contrast(f"depth_saved:{arm}", lambda a, arm=arm: depth_saved(a[arm])) for arm in arms]
    if "hacn" in arms:
        out.append(Contrast("hacn_alpha_mean", lambda a: a["hacn"]["hacn_alpha_mean"]))
    for m in candidates(arms):
        out += [
            Contrast(f"gain_over_residual:{m}",
                     lambda a, m=m: score.gain(a[m][score.cut], a["residual"][score.full])),
            Contrast(f"gain_over_acn_cut:{m}",
                     lambda a, m=m: score.gain(a[m][score.cut], a["acn"][score.cut])),
            Contrast(f"flops_minus_acn_cut:{m}",
                     lambda a, m=m: a[m]["cut_flops"] - a["acn"]["cut_flops"]),
        ]  # fmt: skip
    return out


# -- the verdicts, over seeds ----------------------------------------------------------------------


def _iv(per_seed: Sequence[dict[str, Any]], key: str) -> Interval:
    return interval([float(r["contrasts"][key]) for r in per_seed])


def _arms(per_seed: Sequence[dict[str, Any]]) -> list[str]:
    prefix = "depth_saved:"
    return [k.removeprefix(prefix) for k in per_seed[0]["contrasts"] if k.startswith(prefix)]


def cuts(per_seed: Sequence[dict[str, Any]], arm: str) -> bool:
    """The upper end of the arm's cutoff interval is below its depth, over seeds (95 %)."""
    low = _iv(per_seed, f"depth_saved:{arm}").low
    return low is not None and low > 0


def hacn_class(per_seed: Sequence[dict[str, Any]]) -> str:
    """``long``, ``short`` or ``unclear``: hacn's learned alpha against :data:`HACN_LONG_ALPHA`."""
    iv = _iv(per_seed, "hacn_alpha_mean")
    if iv.low is not None and iv.low > HACN_LONG_ALPHA:
        return "long"
    if iv.high is not None and iv.high < HACN_LONG_ALPHA:
        return "short"
    return "unclear"


def wiring_classes(per_seed: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """The arms of claim 1 as ``long`` and ``short`` output wirings (and ``left_out``)."""
    out: dict[str, list[str]] = {"long": [], "short": [], "left_out": []}
    for arm in _arms(per_seed):
        kind = hacn_class(per_seed) if arm == "hacn" else "long" if arm in LONG_OUTPUT else "short"
        out["left_out" if kind == "unclear" else kind].append(arm)
    return out


def cut_verdict(per_seed: Sequence[dict[str, Any]]) -> str:
    """Claim 1 (see the module docstring)."""
    classes = wiring_classes(per_seed)
    if any(cuts(per_seed, a) for a in classes["short"]):
        return "does-not-hold"
    cutting = [a for a in classes["long"] if cuts(per_seed, a)]
    if cutting and len(cutting) == len(classes["long"]):
        return "holds"
    return "partly" if cutting else "inconclusive"


def dominance(per_seed: Sequence[dict[str, Any]], m: str, margin: float) -> str:
    """``dominates``, ``refuted``, ``leaning`` (every mean on its side) or ``open``."""
    gain = _iv(per_seed, f"gain_over_residual:{m}")
    near = _iv(per_seed, f"gain_over_acn_cut:{m}")
    flops = _iv(per_seed, f"flops_minus_acn_cut:{m}")
    if gain.low is None or near.low is None or flops.low is None:
        return "open"  # one seed: no interval
    if gain.low > 0 and near.low > -margin and flops.high < 0:
        return "dominates"
    if gain.high < 0 or near.high < -margin or flops.low > 0:
        return "refuted"
    if gain.mean > 0 and near.mean > -margin and flops.mean < 0:
        return "leaning"
    return "open"


def dominance_verdict(per_seed: Sequence[dict[str, Any]], margin: float) -> str:
    """Claim 2 (see the module docstring)."""
    found = [dominance(per_seed, m, margin) for m in candidates(_arms(per_seed))]
    if "dominates" in found:
        return "holds"
    if found and all(f == "refuted" for f in found):
        return "does-not-hold"
    return "partly" if "leaning" in found else "inconclusive"


def dominating(per_seed: Sequence[dict[str, Any]], margin: float) -> list[str]:
    """The candidates that dominate both references (claim 2 holds if there is one)."""
    return [m for m in candidates(_arms(per_seed)) if dominance(per_seed, m, margin) == "dominates"]


def rule(score: Score) -> Rule:
    """Both claims: claim 1 (the cut), and claim 2 (dominance) as its second part."""
    unit = score.unit
    return Rule(
        quantity="cut_separation_blocks",
        direction="greater",
        threshold=0.0,
        describe="claim 1: an arm cuts if the 95% t-interval over seeds of L minus the upper "
        "end of its bootstrap cutoff interval is above 0; holds if every long-output arm (acn, "
        f"acn-dg, acn-weighted; hacn if its learned alpha is above {HACN_LONG_ALPHA:g}) cuts and "
        "no other does, does-not-hold if another does; the quantity (least blocks saved by a "
        "long-output arm minus the most by another, per seed) is reported, not judged",
        judge=cut_verdict,
        also=(
            Rule(
                quantity="dominating_modes",
                direction="greater",
                threshold=0.0,
                describe="claim 2: a mode other than residual and acn dominates both if, "
                "seed-paired with 95% t-intervals, its cut score beats residual's full score "
                f"(above 0 {unit}), is not below ACN's cut score by more than {score.margin:g} "
                f"{unit}, and its cut FLOPs are below ACN's cut FLOPs; holds if one does, "
                "does-not-hold if every mode is refuted on one of the three; not corrected "
                "for the number of modes tested; the quantity (modes dominating in one seed "
                "alone) is reported, not judged",
                judge=lambda per_seed: dominance_verdict(per_seed, score.margin),
            ),
        ),
    )
