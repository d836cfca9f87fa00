"""What an experiment of ``acn reproduce`` declares, and how its verdict is decided.

An experiment (:class:`Experiment`; most are built by :func:`acn.experiments.study.study`) declares,
before any number is seen, the quantity it compares (a contrast every seed's result holds), the
direction the paper claims and the threshold (:class:`Rule`). The verdict is then a pure function
of the per-seed values (:func:`decide`): mean, sample std and the 95 % Student-t interval over
seeds;

- direction ``greater``: ``holds`` if the interval's low end is above the threshold,
  ``does-not-hold`` if its high end is below it, else ``partly`` if the mean is on the paper's
  side, else ``inconclusive``; ``less`` is the mirror image;
- one seed (no interval): ``inconclusive``, whatever the rule; a missing or non-finite value:
  ``inconclusive``.

A claim that is not one direction (e.g. "about equal") gives its own ``Rule.verdict_fn`` (it sees
two or more finite values). A claim about several arms at once, each judged on its own interval
over seeds (e.g. "every long-output wiring cuts and no other does"), gives ``Rule.judge``: it
sees every seed's result (the quantity is still each seed's number, reported beside the verdict,
and the same guards apply: fewer than two seeds or a missing value is ``inconclusive``). A claim with several parts (e.g. "as accurate *and* cheaper") lists
the further parts in ``Rule.also``; :func:`decide_claim` combines the parts' verdicts: all
``holds`` -> ``holds``, all ``does-not-hold`` -> ``does-not-hold``, some part on the paper's side
(``holds`` or ``partly``) beside another that is not -> ``partly``, else ``inconclusive``.

Every seed's result has one shape (:data:`SeedResult`): ``{"seed", "arms", "contrasts", "runs"}``,
what each arm (a trained run, a route, a training sequence) measured, the seed-paired quantities
the rule reads, and the config digest of every training run the seed read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .context import RunContext

VERDICTS = ("holds", "partly", "does-not-hold", "inconclusive")
DIRECTIONS = ("greater", "less")
SCALES = ("smoke", "cpu", "paper")

# Two-sided 95 % Student-t quantiles t_{0.975, df} for df = 1..30 (standard tables).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
_Z975 = 1.959964


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"need df >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975  # Cornish-Fisher expansion: error < 1e-4 for df > 30
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass(frozen=True)
class Interval:
    """Mean, sample std and the 95 % t-interval of the mean over ``n`` seeds (None if n < 2)."""

    n: int
    mean: float
    std: float | None
    low: float | None
    high: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "std": self.std, "ci95": [self.low, self.high]}


def interval(values: Sequence[float]) -> Interval:
    """:class:`Interval` of ``values`` (at least one finite value)."""
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = sum(values) / n
    if n < 2:
        return Interval(n, mean, None, None, None)
    try:
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    except OverflowError:  # values near the float limit (1e308): the spread is unbounded
        std = math.inf
    half = t975(n - 1) * std / math.sqrt(n)
    return Interval(n, mean, std, mean - half, mean + half)


CLAIM_KINDS = ("paper", "beyond", "goal")


@dataclass(frozen=True)
class Claim:
    """The statement an experiment tests (``text``) and the number(s) the paper reports
    (``paper``). ``kind``: ``paper`` (a claim of the paper), ``beyond`` (a question the paper
    does not ask, about the same method) or ``goal`` (acn's own goal for its tools); the report
    keeps them apart. A goal that also reproduces a figure of the paper names it (``figure``) and
    the contrast holding our number on it (``figure_quantity``)."""

    text: str
    paper: str
    kind: str = "paper"
    figure: str = ""
    figure_quantity: str = ""

    def __post_init__(self) -> None:
        if self.kind not in CLAIM_KINDS:
            raise ConfigError(f"Claim.kind must be one of {CLAIM_KINDS}, got {self.kind!r}")

    def as_dict(self) -> dict[str, Any]:
        out = {"text": self.text, "paper": self.paper, "kind": self.kind}
        if self.figure:
            out["figure"] = self.figure
            out["figure_quantity"] = self.figure_quantity
        return out


@dataclass(frozen=True)
class Rule:
    """How the verdict is decided: see the module docstring."""

    quantity: str  # a contrast of every seed's result (a float)
    direction: str  # "greater" or "less": the side of `threshold` the paper claims
    threshold: float = 0.0
    describe: str = ""  # one line for the report: what the quantity is and how it is judged
    verdict_fn: Callable[[list[float]], str] | None = None  # replaces the interval rule
    # the seed's value when it is not one of its contrasts
    value: Callable[[dict[str, Any]], float | None] | None = None
    also: tuple[Rule, ...] = ()  # further parts of the same claim (see decide_claim)
    # replaces the interval rule with a verdict on every seed's result (see the module docstring)
    judge: Callable[[Sequence[dict[str, Any]]], str] | None = None

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"Rule.direction must be one of {DIRECTIONS}, got {self.direction!r}")

    def values(self, per_seed: Sequence[dict[str, Any]]) -> list[float | None]:
        """This rule's quantity in every seed's result (None where missing or not a number)."""
        raw = [self.value(r) if self.value else r["contrasts"].get(self.quantity) for r in per_seed]
        return [float(v) if _is_number(v) else None for v in raw]

    def as_dict(self) -> dict[str, Any]:
        out = {
            "quantity": self.quantity,
            "direction": self.direction,
            "threshold": self.threshold,
            "describe": self.describe,
            "custom": self.verdict_fn is not None or self.judge is not None,
        }
        if self.also:
            out["also"] = [part.as_dict() for part in self.also]
        return out


def decide(rule: Rule, values: Sequence[float | None]) -> str:
    """The verdict for one value per seed (see the module docstring)."""
    if not values or any(v is None or not math.isfinite(v) for v in values):
        return "inconclusive"
    vals = [float(v) for v in values if v is not None]
    if len(vals) < 2:  # no interval, and no share of seeds worth the name: for every rule
        return "inconclusive"
    if rule.verdict_fn is not None:
        verdict = rule.verdict_fn(vals)
        if verdict not in VERDICTS:
            raise ConfigError(f"verdict_fn returned {verdict!r}; valid: {', '.join(VERDICTS)}")
        return verdict
    iv = interval(vals)
    sign = 1.0 if rule.direction == "greater" else -1.0
    # mirror "less" onto "greater": the paper's side is then always above the threshold
    low, high = sorted((sign * (iv.low - rule.threshold), sign * (iv.high - rule.threshold)))
    if low > 0:
        return "holds"
    if high < 0:
        return "does-not-hold"
    if sign * (iv.mean - rule.threshold) > 0:
        return "partly"
    return "inconclusive"


def part_verdict(rule: Rule, per_seed: Sequence[dict[str, Any]]) -> str:
    """The verdict of one part of a claim on the seeds' results: its ``judge`` where it has one
    (after the guards of :func:`decide`), else :func:`decide` on its quantity's values."""
    values = rule.values(per_seed)
    if rule.judge is None:
        return decide(rule, values)
    if len(values) < 2 or any(v is None or not math.isfinite(v) for v in values):
        return "inconclusive"
    verdict = rule.judge(per_seed)
    if verdict not in VERDICTS:
        raise ConfigError(f"judge returned {verdict!r}; valid: {', '.join(VERDICTS)}")
    return verdict


def combine(verdicts: Sequence[str]) -> str:
    """One verdict for a claim of several parts (see the module docstring)."""
    if len(set(verdicts)) == 1:
        return verdicts[0]
    if any(v in ("holds", "partly") for v in verdicts):
        return "partly"
    return "inconclusive"


def decide_claim(rule: Rule, per_seed: Sequence[dict[str, Any]]) -> str:
    """The verdict of ``rule`` and every part in ``rule.also`` on the seeds' results."""
    return combine([part_verdict(part, per_seed) for part in (rule, *rule.also)])


@dataclass(frozen=True)
class Scale:
    """One size of an experiment: the values its ``run_seed`` reads and what they change.

    Datasets under the data root appear in ``params`` as :class:`acn.experiments.recipes.Dataset`
    values, so what a scale needs is read off its parameters (``recipes.datasets_in``)."""

    params: dict[str, Any]
    changes: str  # vs the paper: model, data, epochs, what was scaled down and by how much


SeedResult = dict[str, Any]  # {"seed", "arms": {arm: {measure: value}}, "contrasts", "runs"}
RunSeed = Callable[[RunContext, Scale, int], SeedResult]
Readme = Callable[[dict[str, Any]], str]  # a result -> one generated README block


@dataclass(frozen=True)
class Experiment:
    """One experiment of ``acn reproduce`` (see the module docstring). ``run_seed`` returns
    ``{"arms": ..., "contrasts": ...}`` (the runner adds ``seed`` and ``runs``); ``summarize``
    adds numbers beside the intervals the runner computes; ``readme`` names the README blocks
    (``<!-- NAME:begin -->`` ... ``<!-- NAME:end -->``) a result of this experiment renders, and
    ``report`` those of them that its REPORT.md section shows too."""

    name: str  # CLI name, hyphenated
    title: str
    claim: Claim
    rule: Rule
    scales: dict[str, Scale]
    run_seed: RunSeed
    summarize: Callable[[list[SeedResult]], dict[str, Any]] | None = None
    plot: Callable[[list[SeedResult], Path], list[Path]] | None = None
    readme: dict[str, Readme] = field(default_factory=dict)
    report: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.scales) - set(SCALES))
        if unknown or not self.scales:
            raise ConfigError(f"experiment {self.name}: scales must be among {SCALES}")
        if set(self.report) - set(self.readme):
            raise ConfigError(f"experiment {self.name}: report names blocks it does not render")

    def scale(self, name: str) -> Scale:
        if name not in self.scales:
            valid = ", ".join(self.scales)
            raise ConfigError(f"experiment {self.name} has no scale {name!r}; valid: {valid}")
        return self.scales[name]


def intervals(per_seed: Sequence[SeedResult]) -> dict[str, Any]:
    """The 95 % interval over seeds of every number the seeds report: each arm's scalar measures
    and each contrast (a number missing or non-finite on some seed is left out)."""
    rows = list(per_seed)
    arms: dict[str, dict[str, Any]] = {}
    for arm in rows[0]["arms"] if rows else {}:
        numbers = [r["arms"].get(arm, {}) for r in rows]
        found = _intervals_of(numbers)
        if found:
            arms[arm] = found
    return {"arms": arms, "contrasts": _intervals_of([r["contrasts"] for r in rows])}


def _intervals_of(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for key, first in (rows[0] if rows else {}).items():
        vals = [r.get(key) for r in rows]
        if _is_number(first) and all(_is_number(v) and math.isfinite(v) for v in vals):
            out[key] = interval([float(v) for v in vals]).as_dict()
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def summary_sentence(exp: Experiment, per_seed: Sequence[dict[str, Any]], verdict: str) -> str:
    """One sentence generated from the numbers and the verdict (one clause per part of the
    claim when the rule has several)."""
    r = exp.rule
    if not r.also:
        stats = _stats(r, per_seed)
        if stats is None:
            return f"{exp.title}: no finite value of {r.quantity}; verdict {verdict}."
        return f"{stats}; the paper claims {_claimed(r)}: {verdict}."
    clauses = []
    for part in (r, *r.also):
        stats = _stats(part, per_seed) or f"no finite value of {part.quantity}"
        clauses.append(f"{stats}, claimed {_claimed(part)} ({part_verdict(part, per_seed)})")
    return f"{'; '.join(clauses)}; together: {verdict}."


def _claimed(rule: Rule) -> str:
    return f"{rule.quantity} {'>' if rule.direction == 'greater' else '<'} {rule.threshold:g}"


def _stats(rule: Rule, per_seed: Sequence[dict[str, Any]]) -> str | None:
    finite = [v for v in rule.values(per_seed) if v is not None and math.isfinite(v)]
    if not finite:
        return None
    iv = interval(finite)
    spread = (
        f" +- {iv.std:.3g} (95% interval [{iv.low:.3g}, {iv.high:.3g}])"
        if iv.std is not None
        else ""
    )
    return f"{rule.quantity} = {iv.mean:.3g}{spread} over {iv.n} seed(s)"
