"""What an experiment measures on a finished training run, read through :class:`acn.runs.Run`.

A :class:`Measure` is a name, a function of a :class:`Trained` run and, for a score, whether higher
is better (a study orients its contrasts by it). The standard ones read the run's summary (shape
checked by ``Run.summary``), its metrics and its model: accuracy at every depth, the cutoff and
the share of the network it keeps, the best evaluation's epoch, the training cost, and the
inference FLOPs at every depth; the cutoff's bootstrap interval over the test samples, the
wiring's parameter overhead and hacn's learned alphas. :func:`step_time_ratios` times several
arms' training steps side by side in one process (a study's ``together`` measure).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..compress import flops_per_depth
from ..compress.cost import wiring_params
from ..errors import CheckpointError
from ..evaluation import bootstrap_cutoff, evaluate_per_depth
from ..evaluation.cutoff import LM_TOLERANCE, bootstrap_loss_cutoff
from ..models.base import StackModel
from ..runs.evaldata import load_eval_data
from ..runs.run import Run
from ..train.distributed import resolve_device
from ..train.summary import CUTOFF_TOLERANCE
from ..wiring import BlockWiring
from .bench.steps import acn_step, batch
from .bench.timing import interleave, median_ms, ratio


@dataclass
class Trained:
    """One finished run as a measure sees it: the run, its arm's key and tags, the seed, the
    scale's parameters, and a memo so that measures sharing work (a model load, a sweep) do it
    once."""

    run: Run
    key: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per run and key."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def model(self) -> StackModel:
        """The run's trained model, in eval mode on the experiment's device."""
        return self.memo("model", lambda: self.run.model(resolve_device(self.device)).eval())

    def summary(self, key: str) -> Any:
        """``summary.json[key]`` (one line naming the file if the key is missing)."""
        summary = self.run.summary
        if key not in summary:
            raise CheckpointError(f"{self.run.summary_path} is not a summary acn wrote (no {key})")
        return summary[key]

    def metrics(self) -> list[dict[str, Any]]:
        return self.memo("metrics", self.run.metrics)

    def flops(self) -> list[int]:
        """Inference FLOPs per sample of the model cut at every depth 0..L (on the CPU)."""
        return self.memo("flops", lambda: flops_per_depth(self.run.model("cpu").eval()))


@dataclass(frozen=True)
class Measure:
    """A number (or curve) measured on every finished run of a study's arms."""

    name: str
    fn: Callable[[Trained], Any]
    higher_is_better: bool | None = None  # None: not a score (a depth, a curve, a count)
    arms: tuple[str, ...] | None = None  # only these arms (default: every arm)
    group: bool = False  # fn returns several named numbers at once (e.g. a report's fields)

    def applies(self, arm: str) -> bool:
        return self.arms is None or arm in self.arms


def summary_measure(name: str, key: str, higher_is_better: bool | None = None) -> Measure:
    """``summary.json[key]`` as measure ``name``."""
    return Measure(name, lambda t: t.summary(key), higher_is_better)


def _best(t: Trained) -> dict[str, Any]:
    records = t.metrics()
    return max(records, key=lambda r: r["accuracy"]) if records else {"epoch": 0, "accuracy": 0.0}


def _cutoff(t: Trained) -> int:
    return int(t.summary("cutoff_depth"))


ACCURACY = summary_measure("accuracy", "accuracy", higher_is_better=True)
ACCURACY_PER_DEPTH = summary_measure("accuracy_per_depth", "accuracy_per_depth")
CUTOFF = summary_measure("cutoff", "cutoff_depth", higher_is_better=False)
DEPTH = summary_measure("depth", "depth")
DATA = summary_measure("data", "data")
PARAMS = summary_measure("params", "params")
CUT_MODEL_PARAMS = summary_measure("cut_model_params", "cut_model_params")
EPOCHS = summary_measure("epochs", "epochs")
STEPS = summary_measure("steps", "steps")
TRAIN_TIME_S = summary_measure("train_time_s", "train_time_s", higher_is_better=False)
NETWORK_USED_PCT = Measure(
    "network_used_pct",
    lambda t: 100.0 * t.summary("cutoff_depth") / max(t.summary("depth"), 1),
    higher_is_better=False,
)
BEST_EPOCH = Measure("best_epoch", lambda t: _best(t)["epoch"])
BEST_ACCURACY = Measure("best_accuracy", lambda t: _best(t)["accuracy"], higher_is_better=True)
FLOPS_PER_DEPTH = Measure("flops_per_depth", lambda t: t.flops())
FLOPS = Measure("flops", lambda t: t.flops()[-1], higher_is_better=False)
ACCURACY_AT_CUTOFF = Measure(
    "accuracy_at_cutoff",
    lambda t: t.summary("accuracy_per_depth")[_cutoff(t)],
    higher_is_better=True,
)
CUT_FLOPS_FRACTION = Measure(
    "cut_flops_fraction",
    lambda t: t.flops()[_cutoff(t)] / t.flops()[-1],
    higher_is_better=False,
)

CUT_FLOPS = Measure("cut_flops", lambda t: t.flops()[_cutoff(t)], higher_is_better=False)
# language models: validation loss (nats/token) of the full model, at every depth, and of the
# model cut at its loss cutoff (the run's own rule, acn.evaluation.cutoff.LM_TOLERANCE)
VAL_LOSS = summary_measure("val_loss", "val_loss", higher_is_better=False)
LOSS_PER_DEPTH = summary_measure("loss_per_depth", "loss_per_depth")
LOSS_AT_CUTOFF = Measure(
    "loss_at_cutoff", lambda t: t.summary("loss_per_depth")[_cutoff(t)], higher_is_better=False
)
BOOTSTRAP_RESAMPLES = 1000
EVAL_BATCH = 500


def is_lm(t: Trained) -> bool:
    """Whether the run trained a language model (its summary has a validation loss)."""
    return "val_loss" in t.run.summary


def _cutoff_interval(t: Trained) -> dict[str, int]:
    """The cutoff's bootstrap 95 % interval over the test samples (the run's own tolerance and
    rule, resampled with the run's seed), from one more per-depth pass over its test split. A
    language model's samples are its validation windows (their mean loss per token: tokens of
    one text are not independent draws) and its rule is the loss cutoff."""
    model = t.model()
    batches = load_eval_data(t.run.config).batches(EVAL_BATCH)
    evaluation = evaluate_per_depth(model, batches, next(model.parameters()).device)
    if is_lm(t):
        nll = evaluation.nll_per_row()
        iv = bootstrap_loss_cutoff(nll, LM_TOLERANCE, BOOTSTRAP_RESAMPLES, seed=t.seed)
    else:
        iv = bootstrap_cutoff(evaluation.correct, CUTOFF_TOLERANCE, BOOTSTRAP_RESAMPLES, t.seed)
    return {"cutoff_low": iv.low, "cutoff_high": iv.high}


def _wiring(t: Trained) -> dict[str, float]:
    """Parameters the wiring adds over the residual twin, as a count and a share (%)."""
    model = t.model()
    added = wiring_params(model)
    return {"wiring_params": added,
            "param_overhead_pct": 100.0 * added / (model.num_params() - added)}  # fmt: skip


def hacn_alphas(model: StackModel) -> list[float]:
    """The learned alpha of every hacn block (g = 1 - alpha), first block first."""
    return [float(m.alpha.detach()) for m in model.stack.wiring_modules()
            if isinstance(m, BlockWiring) and m.kind == "gated"]  # fmt: skip


def _hacn(t: Trained) -> dict[str, Any]:
    alphas = hacn_alphas(t.model())
    return {"hacn_alpha": alphas, "hacn_alpha_mean": sum(alphas) / len(alphas)}


CUTOFF_INTERVAL = Measure("cutoff_interval", _cutoff_interval, group=True)
WIRING_PARAMS = Measure("wiring_params", _wiring, group=True)
HACN_ALPHA = Measure("hacn_alpha", _hacn, arms=("hacn",), group=True)


def step_time_ratios(
    trained: dict[str, Trained], reference: str, batch_size: int, warmup: int, repeats: int
) -> dict[str, dict[str, float]]:
    """Each arm's training-step time over ``reference``'s, measured side by side in one process
    (``acn train``'s step on a fixed batch, the arms round-robin, order reversed every other
    round; the median of the per-round ratios), as ``benchmarks/connectivity_step_time.py``.
    Fresh copies of the trained models are stepped, so the runs' models stay as trained."""
    models = {k: t.run.model(resolve_device(t.device)).train() for k, t in trained.items()}
    steps = {k: acn_step(m, *batch(m, batch_size)) for k, m in models.items()}
    device = next(models[reference].parameters()).device
    times = interleave(steps, warmup, repeats, device)
    return {k: {"step_time_ratio": ratio(times, k, reference).median,
                "step_time_ms": median_ms(times[k])} for k in models}  # fmt: skip


# What a finished run reports when an experiment compares whole runs (Table 5's columns and more)
RUN_NUMBERS: tuple[Measure, ...] = (
    ACCURACY, ACCURACY_PER_DEPTH, DEPTH, CUTOFF, NETWORK_USED_PCT, PARAMS, CUT_MODEL_PARAMS,
    BEST_EPOCH, BEST_ACCURACY, EPOCHS, STEPS, TRAIN_TIME_S,
)  # fmt: skip


def measure(trained: Trained, measures: Sequence[Measure]) -> dict[str, Any]:
    """``{name: value}`` of every measure that applies to ``trained``'s arm (a group measure
    adds each of its numbers)."""
    out: dict[str, Any] = {}
    for m in measures:
        if m.applies(trained.key):
            value = m.fn(trained)
            if m.group:
                out.update(value)
            else:
                out[m.name] = value
    return out


def run_numbers(run: Run, measures: Sequence[Measure] = RUN_NUMBERS) -> dict[str, Any]:
    """The measures of one finished run outside a study (imperative experiments)."""
    return measure(Trained(run), measures)


def training_flops(forward_flops: float, samples: int, epochs: int) -> float:
    """Estimated training FLOPs: 3 x forward (forward + backward) per sample seen."""
    return 3.0 * forward_flops * samples * epochs
