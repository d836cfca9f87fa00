"""A study: the shape most experiments have, declared instead of written.

Train arms (a connectivity and a config change on one of the scale's recipes) at each seed,
measure every finished run, take seed-paired contrasts. :func:`study` turns that declaration
into an :class:`~acn.experiments.suite.Experiment`; the runner (:mod:`.runner`) then owns the
rest: dry runs, resume and shared runs, one result shape per seed (``{"seed", "arms":
{arm: {measure: value}}, "contrasts", "runs"}``), a 95 % interval for every number, the verdict
of the declared rule on one contrast, the declared curves, and the provenance.

A new paired comparison is one short file in :mod:`acn.experiments.catalog` (discovered there;
nothing else lists it). This one, whole, asks whether ACN still compresses at half the demo's
learning rate (``tests/test_experiments_study.py`` runs it at smoke scale):

.. code-block:: python

    "Does ACN still auto-compress at half the demo's learning rate?"

    from ..measures import ACCURACY, ACCURACY_PER_DEPTH, CUTOFF
    from ..recipes import MNIST_MIXER, SMOKE
    from ..study import Arm, Contrast, Curve, study
    from ..suite import Claim, Rule, Scale

    HALF = {"optim": {"lr": MNIST_MIXER["optim"]["lr"] / 2}}

    EXPERIMENT = study(
        name="half-lr",
        title="Auto-compression at half the learning rate",
        claim=Claim("ACN cuts earlier than residual at half the learning rate", "not in the paper"),
        arms=(Arm("residual", "residual", HALF), Arm("acn", "acn", HALF)),
        measures=(ACCURACY, CUTOFF, ACCURACY_PER_DEPTH),
        contrasts=(Contrast.gain("residual_minus_acn_cutoff", CUTOFF, "acn", over="residual"),),
        rule=Rule("residual_minus_acn_cutoff", "greater", 0.0, describe="seed-paired blocks"),
        scales={
            "smoke": Scale({"train": SMOKE}, "3-block Mixer, 200 digits, 1 epoch"),
            "cpu": Scale({"train": MNIST_MIXER}, "the demo's Mixer and data, lr 1e-3"),
        },
        curves=(Curve("accuracy_vs_depth.png", "accuracy_per_depth", marks="cutoff",
                      xlabel="depth k", ylabel="test accuracy (%)"),),
    )
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..runs.config import merge
from ..runs.run import Run
from .context import RunContext
from .figures import plot_curves
from .measures import Measure, Trained, measure
from .recipes import Recipe
from .suite import Claim, Experiment, Readme, Rule, Scale, SeedResult

# a change: a dict merged into the recipe, or computed from the scale's parameters and the run
# this arm starts from (``after``; None in a dry run)
Changes = Recipe | Callable[[dict[str, Any], Run | None], Recipe] | None
Numbers = dict[str, dict[str, Any]]  # arm -> measure -> value, one seed
# numbers taken on every arm's run at once (e.g. step times side by side in one process)
Together = Callable[[dict[str, Trained]], Numbers]


@dataclass(frozen=True)
class Arm:
    """One training run per seed: ``connectivity`` on the scale's ``recipe`` plus ``changes``;
    with ``after``, it starts from that arm's finished run (``init_from``)."""

    key: str
    connectivity: str
    changes: Changes = None
    recipe: str = "train"  # which of the scale's parameters holds the recipe
    after: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)  # read by measures (e.g. exit heads)
    # changes computed from the finished runs of the arms trained before it (None in a dry
    # run), merged over ``changes``; unlike ``after``, the run does not start from any of them
    depends: Callable[[dict[str, Any], dict[str, Run] | None], Recipe] | None = None

    def config_changes(self, params: dict[str, Any], upstream: Run | None) -> Recipe:
        changes = self.changes(params, upstream) if callable(self.changes) else self.changes
        changes = dict(changes or {})
        if upstream is not None:
            changes["init_from"] = str(upstream.path.resolve())
        return changes


@dataclass(frozen=True)
class Contrast:
    """A seed-paired quantity computed from one seed's arm numbers."""

    name: str
    fn: Callable[[Numbers], Any]

    @staticmethod
    def gain(name: str, m: Measure, arm: str, over: str) -> Contrast:
        """How much better ``arm`` is than ``over`` on ``m`` (positive: ``arm`` is better)."""
        if m.higher_is_better is None:
            raise ValueError(f"measure {m.name} is not a score (higher_is_better is None)")
        key = m.name
        if m.higher_is_better:
            return Contrast(name, lambda a: a[arm][key] - a[over][key])
        return Contrast(name, lambda a: a[over][key] - a[arm][key])

    @staticmethod
    def value(name: str, m: Measure, arm: str) -> Contrast:
        """One arm's measure, as it is (a claim about one model)."""
        return Contrast(name, lambda a: a[arm][m.name])


@dataclass(frozen=True)
class Curve:
    """A figure of a list-valued measure: one line per arm (mean over seeds, +-1 std band)."""

    file: str
    measure: str
    xlabel: str
    ylabel: str
    title: str | Callable[[list[SeedResult]], str] = ""
    arms: tuple[str, ...] | None = None  # default: every arm that has the measure
    marks: str | None = None  # a scalar measure starred on each line (its mean over seeds)
    x: str | None = None  # a measure of the first arm holding the x values
    labels: dict[str, str] | None = None  # legend label of an arm (default: its key)

    def draw(self, per_seed: list[SeedResult], out_dir: Path) -> Path:
        arms = self.arms or [a for a, v in per_seed[0]["arms"].items() if self.measure in v]
        label = (self.labels or {}).get
        curves = {label(a, a): [_get(r, a, self.measure) for r in per_seed] for a in arms}
        marks = None
        if self.marks is not None:
            marks = {label(a, a): sum(_get(r, a, self.marks) for r in per_seed) / len(per_seed)
                     for a in arms}  # fmt: skip
        x = _get(per_seed[0], arms[0], self.x) if self.x is not None else None
        title = self.title(per_seed) if callable(self.title) else self.title
        return plot_curves(curves, Path(out_dir) / self.file, title=title, xlabel=self.xlabel,
                           ylabel=self.ylabel, x=x, marks=marks)  # fmt: skip


def _get(seed_result: SeedResult, arm: str, key: str) -> Any:
    try:
        return seed_result["arms"][arm][key]
    except (KeyError, TypeError):
        raise DataError(f"seed {seed_result.get('seed')} has no number {arm}.{key}") from None


def study(
    *,
    name: str,
    title: str,
    claim: Claim,
    rule: Rule,
    scales: dict[str, Scale],
    arms: Sequence[Arm] | Callable[[dict[str, Any]], Sequence[Arm]],
    measures: Sequence[Measure],
    contrasts: Sequence[Contrast] | Callable[[dict[str, Any]], Sequence[Contrast]],
    curves: Sequence[Curve] = (),
    plot: Callable[[list[SeedResult], Path], list[Path]] | None = None,
    summarize: Callable[[list[SeedResult]], dict[str, Any]] | None = None,
    readme: dict[str, Readme] | None = None,
    together: Together | None = None,
    report: tuple[str, ...] = (),
) -> Experiment:
    """The :class:`Experiment` that runs this study (see the module docstring). ``arms`` and
    ``contrasts`` may depend on the scale's parameters; ``plot`` draws figures the curves
    cannot; ``together`` measures every arm's run at once (its numbers join each arm's);
    ``report`` names README blocks also shown in the experiment's REPORT.md section."""

    def arms_of(params: dict[str, Any]) -> list[Arm]:
        found = list(arms(params) if callable(arms) else arms)
        keys = [a.key for a in found]
        if len(set(keys)) != len(keys):
            raise ValueError(f"study {name}: arm keys repeat: {keys}")
        return found

    def run_seed(ctx: RunContext, scale: Scale, seed: int) -> SeedResult:
        runs: dict[str, Run | None] = {}
        for arm in arms_of(scale.params):
            upstream = runs[arm.after] if arm.after is not None else None
            recipe = scale.params[arm.recipe]
            changes = arm.config_changes(scale.params, upstream)
            if arm.depends is not None:
                done = None if ctx.dry_run else {k: r for k, r in runs.items() if r is not None}
                changes = merge(changes, arm.depends(scale.params, done))
            runs[arm.key] = ctx.train(arm.key, ctx.config(recipe, arm.connectivity, changes))
        if ctx.dry_run:
            return {}
        numbers: Numbers = {}
        trained: dict[str, Trained] = {}
        for arm in arms_of(scale.params):
            run = runs[arm.key]
            assert run is not None  # trained above (not a dry run)
            trained[arm.key] = Trained(run, arm.key, arm.tags, seed, scale.params, ctx.device)
            numbers[arm.key] = measure(trained[arm.key], measures)
        if together is not None:
            for key, more in together(trained).items():
                numbers[key].update(more)
        found = contrasts(scale.params) if callable(contrasts) else contrasts
        return {"arms": numbers, "contrasts": {c.name: c.fn(numbers) for c in found}}

    def draw(per_seed: list[SeedResult], out_dir: Path) -> list[Path]:
        paths = [curve.draw(per_seed, out_dir) for curve in curves]
        return paths + (plot(per_seed, out_dir) if plot is not None else [])

    return Experiment(
        name=name,
        title=title,
        claim=claim,
        rule=rule,
        scales=scales,
        run_seed=run_seed,
        summarize=summarize,
        plot=draw if curves or plot is not None else None,
        readme=dict(readme or {}),
        report=tuple(report),
    )
