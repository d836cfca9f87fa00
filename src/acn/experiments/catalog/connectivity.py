"""``acn reproduce connectivity``: every wiring of :mod:`acn.connectivity` on one model, data and
recipe; which of them auto-compress, and does any beat both residual and ACN at once?

Each arm is one connectivity mode defined for the setting's model family (every mode but
value-residual for the Mixers), all at the same depth L, width, data, recipe and seeds; the
wirings' own parameters come on top (DenseNet's projections grow with depth) and are reported.
Per arm and seed: the full model's accuracy, the cutoff (first depth within 0.5 points of the
full model) with its bootstrap 95 % interval over the test samples, the cut model's accuracy and
FLOPs (counted, wiring included) and the cut/full ratio, the accuracy at every depth, the wiring's
parameter overhead, the training-step time over residual's (every arm's step timed side by side
in one process) and hacn's learned alphas.

The two claims and their rules are :mod:`._wiring_claims` (fixed before any number): (1) only
long-output wirings (acn, acn-dg, acn-weighted, hacn at alpha > 0) cut below full depth at equal
accuracy; (2) a mode on the Pareto front of cut accuracy against cut FLOPs dominates both
residual and ACN. The verdict is both parts together; the README block and the REPORT.md table
say each part's verdict and name the modes.

Settings (one experiment each, each within 30 minutes at cpu scale on 2 idle cores):
``connectivity`` is the 16-block demo Mixer on MNIST-5k (``recipes.MNIST_MIXER``),
``connectivity-cifar`` the CPU-sized CIFAR-10 Mixer (``recipes.CIFAR_SMALL``, 8x8 patches) on the
first 5 classes, ``connectivity-gpt`` the 4-layer character GPT on tiny-shakespeare
(``recipes.GPT_CHAR_NANOGPT`` cut to 500 iterations). The paper scale (a dry run's plan) is the
paper's 16-layer CIFAR-10 Mixer, and GPT-2 small on the user's text for ``connectivity-gpt``.
A language model's score is its validation loss (nats/token, lower is better) and its cutoff the
loss cutoff (:data:`acn.evaluation.cutoff.LM_TOLERANCE`); every mode is defined for the ``gpt``
family, value-residual included.

Budget, measured (``acn train``, one epoch, 1 torch thread on a core the other helpers' jobs left
mostly free, load average about 3; CPU seconds = wall seconds there): one epoch of all 12 Mixer
modes at one seed takes 45 s on MNIST-5k and 27 s on 5 CIFAR classes, an evaluation included (about
8 % of the MNIST epoch, 31 % of the CIFAR one: 2,000 test images); hyper-dynamic steps take
2.8-3.8x residual's, hyper 1.5-1.9x, DenseNet 1.1-1.3x. The dry runs' training FLOPs (2.96e13 and
4.14e13 for 3 seeds) over these times are 24 and 37 GFLOP/s. Per seed, MNIST: 10 epochs x 41 s + 2
evaluations x 3.5 s + the measures (bootstrap re-evaluation, FLOPs, step timing, about 20 s) + run
setup (about 12 s) = about 450 s, so 3 seeds take about 23 minutes; CIFAR: 20 epochs x 18.5 s + 4
evaluations x 8.3 s + about 30 s = about 435 s, 3 seeds about 22 minutes. Two torch threads on two
idle cores are no slower; on a loaded machine they are many times slower (OpenMP threads wait on
each other), so a shared machine should run with ``OMP_NUM_THREADS=1``.

``connectivity-gpt`` at cpu scale: 13 modes x 500 steps of 12 windows of 64 characters, 2.6e13
training FLOPs a seed by the dry run. A residual gpt_char step (3.96 GFLOP) takes 51-53 ms on one
idle thread; the 13 modes' steps timed side by side (``acn.experiments.bench.steps.acn_step``, 10
interleaved rounds, one thread on the loaded machine) take 0.94-1.16x residual's, hyper-dynamic
1.66x, 13.8 residual steps in all: about 13.8 x 500 x 52 ms = 360 s of training a seed, plus
setup and a final evaluation (about 4 s a run) and, estimated, the bootstrap re-evaluation (3 s an
arm) and the step timing (10 s): about 460 s a seed, 23 minutes for 3 seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...connectivity import MODES
from ...evaluation.cutoff import LM_TOLERANCE
from ...models.registry import FAMILIES, get_preset
from ...runs.config import merge
from ..figures import mean_std, pareto_front, plot_points
from ..measures import (
    ACCURACY,
    ACCURACY_AT_CUTOFF,
    ACCURACY_PER_DEPTH,
    CUT_FLOPS,
    CUT_FLOPS_FRACTION,
    CUTOFF,
    CUTOFF_INTERVAL,
    DATA,
    DEPTH,
    FLOPS,
    HACN_ALPHA,
    LOSS_AT_CUTOFF,
    LOSS_PER_DEPTH,
    PARAMS,
    TRAIN_TIME_S,
    VAL_LOSS,
    WIRING_PARAMS,
    Trained,
    step_time_ratios,
)
from ..recipes import (
    CIFAR_MIXER,
    CIFAR_SMALL,
    GPT2_SMALL_OWT,
    GPT_CHAR_NANOGPT,
    MNIST_MIXER,
    SMOKE,
    SMOKE_LM,
    Recipe,
)
from ..study import Arm, Curve, study
from ..suite import Claim, Experiment, Scale, SeedResult, combine, part_verdict
from . import _wiring_claims as claims

REFERENCE = "residual"  # the arm every step time is measured against
COMMON = (DEPTH, CUTOFF, CUTOFF_INTERVAL, FLOPS, CUT_FLOPS, CUT_FLOPS_FRACTION, PARAMS,
          WIRING_PARAMS, HACN_ALPHA, TRAIN_TIME_S, DATA)  # fmt: skip
SCORE = claims.ACCURACY  # the cut model is scored at its cutoff (measures.ACCURACY_AT_CUTOFF)
# a language model: validation loss, the cut model's at its loss cutoff (measures.LOSS_AT_CUTOFF)
LOSS = claims.Score("val_loss", "loss_at_cutoff", False, LM_TOLERANCE, "nats/token")


@dataclass(frozen=True)
class Scored:
    """What a setting's score is: the claims' :class:`~._wiring_claims.Score`, the measures
    holding it and its per-depth curve, and how the table and figures name it."""

    score: claims.Score
    measures: tuple
    per_depth: str
    label: str  # e.g. "test accuracy (%)"
    column: str  # the table's header for the full score, e.g. "accuracy (%)"
    cutoff_rule: str  # the cutoff in words

    @property
    def all_measures(self) -> tuple:
        return (*self.measures, *COMMON)


ACCURACY_SCORED = Scored(
    SCORE,
    (ACCURACY, ACCURACY_PER_DEPTH, ACCURACY_AT_CUTOFF),
    "accuracy_per_depth",
    "test accuracy (%)",
    "accuracy (%)",
    "first depth within 0.5 points of the model's own full accuracy",
)
LOSS_SCORED = Scored(LOSS, (VAL_LOSS, LOSS_PER_DEPTH, LOSS_AT_CUTOFF), "loss_per_depth",
                     "validation loss (nats/token)", "val loss (nats/token)",
                     f"smallest depth within {LM_TOLERANCE:g} nats/token of the best depth's "
                     "validation loss")  # fmt: skip
CLAIM = Claim(
    text="(1) Only long-output wirings (acn, acn-dg, acn-weighted, hacn at alpha > 0) cut below "
    "full depth at equal accuracy; (2) some wiring beats both residual's accuracy and ACN's "
    "cut FLOPs at once: a mode on the Pareto front dominates both residual and ACN",
    paper="not in the paper: the ACN paper compares residual, feed-forward, DenseNet and "
    "DenseFormer wirings (Fig. 2, Table 5); the 2024-26 wirings (hyper-connections, LAuReL, "
    "hacn) report accuracy, never whether the trained model can be cut",
    kind="beyond",
)


def modes_for(recipe: Recipe) -> list[str]:
    """Every connectivity mode the recipe's model family defines, in :data:`MODES` order."""
    family = FAMILIES[get_preset(recipe["model"]["name"]).family]
    return [m for m in MODES if m not in family.undefined_modes]


def arms(params: dict[str, Any]) -> list[Arm]:
    return [Arm(m, m) for m in modes_for(params["train"])]


def scored(recipe: Recipe) -> Scored:
    """How the recipe's model is scored: validation loss for a language model (a ``gpt``)."""
    return LOSS_SCORED if get_preset(recipe["model"]["name"]).family == "gpt" else ACCURACY_SCORED


def contrasts(params: dict[str, Any]) -> list:
    return claims.contrasts(modes_for(params["train"]), scored(params["train"]).score)


def together(trained: dict[str, Trained]) -> dict[str, dict[str, float]]:
    """Every arm's training-step time over residual's, side by side in one process."""
    params = next(iter(trained.values())).params
    timing = params["timing"]
    batch_size = int(params["train"].get("batch_size", 64))
    return step_time_ratios(trained, REFERENCE, batch_size, timing["warmup"], timing["repeats"])


# -- what the result shows ----------------------------------------------------------------------


def result_scored(result: dict[str, Any]) -> Scored:
    """How the result's setting is scored (its training recipe's model)."""
    return scored(result["scale_params"]["train"])


def part_verdicts(result: dict[str, Any]) -> tuple[str, str]:
    """Each claim's verdict, decided by the rule on the result's per-seed numbers; a result
    whose stored verdict is not what they combine to (decided by another rule: run
    ``--redecide``) cannot be shown."""
    per_seed = result["per_seed"]
    rule = claims.rule(result_scored(result).score)
    found = part_verdict(rule, per_seed), part_verdict(rule.also[0], per_seed)
    if combine(found) != result["verdict"]:
        raise ValueError(
            f"its verdict {result['verdict']!r} is not what the current rule decides from its "
            f"numbers ({' and '.join(found)}): run `acn reproduce {result['name']} --redecide`"
        )
    return found


def _mean(per_seed: list[SeedResult], arm: str, key: str) -> float:
    return sum(r["arms"][arm][key] for r in per_seed) / len(per_seed)


def _pm(per_seed: list[SeedResult], arm: str, key: str, digits: int = 2) -> str:
    mean, std = mean_std([[r["arms"][arm][key]] for r in per_seed])
    return f"{mean[0]:.{digits}f} +- {std[0]:.{digits}f}"


def table(result: dict[str, Any]) -> str:
    """Per mode: full score (accuracy or validation loss), cutoff with its interval, cut score,
    cut/full FLOPs, wiring parameters, step time over residual, whether it cuts and dominates;
    then each claim's verdict in a sentence."""
    per_seed = result["per_seed"]
    modes = list(per_seed[0]["arms"])
    depth = per_seed[0]["arms"][modes[0]]["depth"]
    verdict1, verdict2 = part_verdicts(result)
    how = result_scored(result)
    score = how.score
    digits = 2 if score.higher_is_better else 3
    cutting = {m for m in modes if claims.cuts(per_seed, m)}
    dominating = set(claims.dominating(per_seed, score.margin))
    means = {m: (_mean(per_seed, m, "cut_flops"), _mean(per_seed, m, score.cut)) for m in modes}
    front = set(pareto_front(means, maximize_y=score.higher_is_better))
    rows = [
        f"`{result['name']}`: {per_seed[0]['arms'][modes[0]]['data']}; {len(per_seed)} seeds "
        f"({result['scale']} scale), mean +- std over seeds. Cutoff: {how.cutoff_rule}, and "
        "the mean over seeds of its bootstrap 95% interval over the test samples (a language "
        "model's: its validation windows); cuts: L minus the interval's upper end has a 95% seed "
        "interval above 0.",
        "",
        f"| mode | {how.column} | cutoff / L | cutoff interval | cut {how.column} | cut / full "
        "FLOPs | cut MFLOPs | wiring params (overhead) | step time / residual | cuts | "
        "on the Pareto front | dominates residual and ACN |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in modes:
        cutoff = _mean(per_seed, m, "cutoff")
        low, high = _mean(per_seed, m, "cutoff_low"), _mean(per_seed, m, "cutoff_high")
        params = _mean(per_seed, m, "wiring_params")
        rows.append(
            f"| {m} | {_pm(per_seed, m, score.full, digits)} | {cutoff:.1f} / {depth} | "
            f"[{low:.1f}, {high:.1f}] | {_pm(per_seed, m, score.cut, digits)} | "
            f"{_mean(per_seed, m, 'cut_flops_fraction'):.2f} | "
            f"{_mean(per_seed, m, 'cut_flops') / 1e6:.2f} | {params:,.0f} "
            f"({_mean(per_seed, m, 'param_overhead_pct'):.1f}%) | "
            f"{_mean(per_seed, m, 'step_time_ratio'):.2f} | {'yes' if m in cutting else 'no'} | "
            f"{'yes' if m in front else 'no'} | "
            f"{'yes' if m in dominating else '-' if m in claims.REFERENCES else 'no'} |"
        )
    setting = result["name"]
    classes = claims.wiring_classes(per_seed)
    alpha = ""
    if "hacn" in modes:
        alpha = f"; hacn's learned alpha {_pm(per_seed, 'hacn', 'hacn_alpha_mean')}"
    rows += [
        "",
        f"**Claim 1** (only long-output wirings cut): **{verdict1}** in `{setting}`. Cutting: "
        f"{', '.join(sorted(cutting)) or 'none'}; long-output here: "
        f"{', '.join(classes['long']) or 'none'}"
        + (
            f"; left out (alpha unclear): {', '.join(classes['left_out'])}"
            if classes["left_out"]
            else ""
        )
        + f"{alpha}.",  # fmt: skip
        "",
        f"**Claim 2** (a mode dominates both residual and ACN): **{verdict2}**. "
        + dominance_sentence(setting, verdict2, dominating, front),
    ]
    return "\n".join(rows)


def dominance_sentence(setting: str, verdict: str, dominating: set[str], front: set[str]) -> str:
    """Claim 2 in words: which modes dominate both references, and whether they are on the
    Pareto front of the mean cut score against mean cut FLOPs."""
    if not dominating:
        why = ("every mode is refuted on accuracy or FLOPs" if verdict == "does-not-hold"
               else "no mode has all three intervals on its side")  # fmt: skip
        return f"No mode dominates both residual and ACN in `{setting}` ({why})."
    on, off = ", ".join(sorted(dominating & front)), ", ".join(sorted(dominating - front))
    if not on:
        return (f"{off} dominates both residual and ACN in `{setting}`, behind the Pareto front of "
                "the means (the modes ahead of it are not shown to dominate both).")  # fmt: skip
    text = f"A mode on the Pareto front dominates both residual and ACN in `{setting}`: {on}."
    return text + (f" So does {off}, behind the front." if off else "")


def plot_front(how: Scored, per_seed: list[SeedResult], out_dir: Path) -> list[Path]:
    """The cut model's score against its FLOPs for every mode (each seed faint, the mean with
    +-1 std bars) and the Pareto front of the means."""
    modes = list(per_seed[0]["arms"])
    points = {
        m: [(r["arms"][m]["cut_flops"] / 1e6, r["arms"][m][how.score.cut]) for r in per_seed]
        for m in modes
    }
    data = per_seed[0]["arms"][modes[0]]["data"].split(":")[0]
    what = "accuracy" if how.score.higher_is_better else "validation loss"
    path = plot_points(
        points,
        Path(out_dir) / "pareto.png",
        title=f"every wiring cut at its cutoff ({data}): {what} against FLOPs",
        xlabel="FLOPs per sample of the cut model (millions, wiring included)",
        ylabel=f"{how.label} of the cut model",
        front="max" if how.score.higher_is_better else "min",
    )
    return [path]


LONG_CURVE_ARMS = (REFERENCE, *claims.LONG_OUTPUT, "hacn")


def depth_curve(how: Scored, which: str, arms: tuple[str, ...]) -> Curve:
    """The per-depth score of ``arms``: ``which`` is ``long`` (the long-output wirings and
    residual) or ``other``."""
    what = "accuracy" if how.score.higher_is_better else "loss"
    title = "long-output wirings (and residual)" if which == "long" else "the other wirings"
    return Curve(f"{what}_vs_depth_{which}.png", how.per_depth, arms=arms, marks="cutoff",
                 title=f"{title}: {what} at every depth (star: mean cutoff)",
                 xlabel="depth k (blocks used, shared head)", ylabel=how.label)  # fmt: skip


def plotter(how: Scored):
    """The figures of a setting scored by ``how``: the Pareto front and the other wirings'
    per-depth curves (the long-output ones are a declared :class:`Curve`)."""

    def plot(per_seed: list[SeedResult], out_dir: Path) -> list[Path]:
        modes = tuple(m for m in per_seed[0]["arms"] if m not in LONG_CURVE_ARMS[1:])
        other = depth_curve(how, "other", modes).draw(per_seed, out_dir)
        return plot_front(how, per_seed, out_dir) + [other]

    return plot


def setting(
    name: str,
    title: str,
    cpu: Scale,
    block: str,
    smoke: Scale | None = None,
    paper: Scale | None = None,
) -> Experiment:
    """One setting of the experiment (the Mixers' smoke and paper scales unless given)."""
    how = scored(cpu.params["train"])
    return study(
        name=name,
        title=title,
        claim=CLAIM,
        rule=claims.rule(how.score),
        arms=arms,
        measures=how.all_measures,
        contrasts=contrasts,
        curves=(depth_curve(how, "long", LONG_CURVE_ARMS),),
        plot=plotter(how),
        together=together,
        readme={block: table},
        report=(block,),
        scales={"smoke": smoke or SMOKE_SCALE, "cpu": cpu, "paper": paper or PAPER_SCALE},
    )


TIMING = {"warmup": 2, "repeats": 10}
SMOKE_SCALE = Scale(
    params={"train": SMOKE, "timing": {"warmup": 1, "repeats": 2}},
    changes="3-block width-16 Mixer, 200 MNIST digits, 1 epoch",
)
PAPER_SCALE = Scale(
    params={"train": CIFAR_MIXER, "timing": TIMING},
    changes="the paper's 16-layer width-128 Mixer on all of CIFAR-10 (JPEG shards, which are "
    "lossy), 100 epochs (Fig. 2), every wiring",
)
# the demo's Mixer and recipe, 10 epochs instead of 25 (the budget above), evaluated every fifth
MNIST_TRAIN = merge(MNIST_MIXER, {"epochs": 10, "eval_every": 5, "dg_share": False})
# the CPU-sized CIFAR-10 Mixer on the first 5 classes (300 training images each), 20 epochs
CIFAR_TRAIN = merge(CIFAR_SMALL, {"data": {"classes": 5}, "epochs": 20, "eval_every": 5})
# nanoGPT's CPU recipe for the character GPT, a quarter as long (500 steps, 25 of warmup)
GPT_TRAIN = merge(GPT_CHAR_NANOGPT, {"data": {"options": {"train_windows": 6000}}})

EXPERIMENT = setting(
    "connectivity",
    "Which wirings auto-compress: every connectivity on the demo Mixer (MNIST-5k)",
    Scale(
        params={"train": MNIST_TRAIN, "timing": TIMING},
        changes="16-block width-32 Mixer (7x7 patches) on MNIST-5k (4,000 train / 1,000 test "
        "digits), 10 epochs instead of the demo's 25, every wiring at the same depth; not in the "
        "paper",
    ),
    "connectivity-table",
)
OTHER_SETTINGS = (
    setting(
        "connectivity-cifar",
        "Which wirings auto-compress: every connectivity on the CIFAR-10 Mixer (5 classes)",
        Scale(
            params={"train": CIFAR_TRAIN, "timing": TIMING},
            changes="8-block width-64 Mixer with 8x8 patches on the first 5 CIFAR-10 classes "
            "(300 training images each, of the first 4,000 of each split), 20 epochs, flips; "
            "every wiring at the same depth; not in the paper",
        ),
        "connectivity-cifar-table",
    ),
    setting(
        "connectivity-gpt",
        "Which wirings auto-compress: every connectivity on the character GPT (tiny-shakespeare)",
        Scale(
            params={"train": GPT_TRAIN, "timing": TIMING},
            changes="4-layer width-128 character GPT (context 64) on tiny-shakespeare, nanoGPT's "
            "CPU recipe for 500 iterations instead of 2,000 (6,000 windows of 64 characters); "
            "score: validation loss; every wiring at the same depth; not in the paper",
        ),
        "connectivity-gpt-table",
        Scale(
            params={"train": SMOKE_LM, "timing": {"warmup": 1, "repeats": 2}},
            changes="3-block width-16 character GPT (context 16) on the generated corpus, 10 steps",
        ),
        Scale(
            params={"train": GPT2_SMALL_OWT, "timing": TIMING},
            changes="GPT-2 small's shapes (124M, context 1024, 50,257-token BPE) on the user's "
            "OpenWebText-style text, 600 steps of 480 windows, FSDP2 under torchrun, every "
            "wiring: a dry run's plan here",
        ),
    ),
)
