"""Accuracy vs sparsity: prune a trained model at several levels and score each pruned model.

Each pruned model goes through its model file (save, reload) before it is counted and scored, so
the reported sparsity and accuracy are those of what was saved. Every level is scored at every
depth in one pass; the curves keep the full depth and the unpruned model's cutoff depth.

The model as deployed is the pruned model cut at that cutoff depth (an ACN ships cut; a model
whose cutoff is its full depth ships whole): each level reports the non-zero parameters of that
model (embedding, kept blocks, norms, head) beside its accuracy, the size axis on which pruned
models of different wirings compare. Magnitude pruning (:func:`prune_sweep`) prunes the trained
model post hoc; movement pruning (:func:`movement_sweep`) prunes while fine-tuning.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from ..evaluation import evaluate_per_depth
from ..evaluation.cutoff import cutoff_depth
from ..models.base import StackModel
from ..runs.inputs import TrainData
from ..serialization import load, save
from .movement import MovementSettings, count_nonzero, movement_prune
from .prune import global_magnitude_prune, measure_sparsity

Batches = Callable[[], Iterable[tuple[Tensor, Tensor]]]


@dataclass
class PruneLevel:
    """One pruned model: its target and measured sparsity and its accuracy (%) per depth."""

    target: float
    sparsity: float  # zeros / block weights, counted in the saved tensors
    overall_sparsity: float  # zeros / all parameters
    nonzero_params: int
    accuracy: list[float]
    # the model as deployed: cut at the curve's cutoff depth (None in files older than this)
    deployed_depth: int | None = None
    deployed_nonzero_params: int | None = None

    @property
    def deployed_accuracy(self) -> float | None:
        """Accuracy (%) of the model as deployed (at ``deployed_depth``)."""
        return None if self.deployed_depth is None else self.accuracy[self.deployed_depth]


@dataclass
class PruneCurve:
    """All levels of one run."""

    label: str
    connectivity: str
    cutoff_depth: int
    levels: list[PruneLevel] = field(default_factory=list)
    method: str = "magnitude"

    def rows(self) -> list[dict[str, Any]]:
        """Flat records for CSV: one per level."""
        return [
            {
                "run": self.label,
                "connectivity": self.connectivity,
                "target_sparsity": lv.target,
                "block_sparsity": round(lv.sparsity, 6),
                "overall_sparsity": round(lv.overall_sparsity, 6),
                "nonzero_params": lv.nonzero_params,
                "accuracy_full": round(lv.accuracy[-1], 4),
                "cutoff_depth": self.cutoff_depth,
                "accuracy_cutoff": round(lv.accuracy[self.cutoff_depth], 4),
                "deployed_nonzero_params": lv.deployed_nonzero_params,
                "method": self.method,
            }
            for lv in self.levels
        ]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for level, lv in zip(out["levels"], self.levels):
            level["deployed_accuracy"] = lv.deployed_accuracy
        return out


def prune_sweep(
    model: StackModel,
    batches: Batches,
    sparsities: Sequence[float],
    *,
    label: str = "",
    tolerance: float = 0.5,
    save_dir: str | Path | None = None,
) -> PruneCurve:
    """Magnitude-prune ``model`` at each fraction in ``sparsities`` and score every depth of each
    result (and of the model as deployed, module docstring).

    The cutoff depth is that of the unpruned model within ``tolerance`` accuracy points. With
    ``save_dir`` the pruned model files are kept there (``sparsity-XX.safetensors``).
    """
    device = next(model.parameters()).device
    base = evaluate_per_depth(model, batches(), device).accuracy
    curve = PruneCurve(label, model.config.connectivity, cutoff_depth(base, tolerance))
    with _folder(save_dir) as folder:
        for target in sparsities:
            pruned, _ = global_magnitude_prune(model, target)
            curve.levels.append(score_level(pruned, target, curve, batches, folder))
            del pruned
    return curve


def movement_sweep(
    model: StackModel,
    data: TrainData,
    batches: Batches,
    levels: Sequence[float],
    settings: MovementSettings | None = None,
    *,
    label: str = "",
    tolerance: float = 0.5,
    save_dir: str | Path | None = None,
) -> PruneCurve:
    """Movement-prune a copy of ``model`` while fine-tuning it on ``data`` to the cumulative
    ``levels`` (:func:`acn.compress.movement.movement_prune`) and score every point of the
    schedule like :func:`prune_sweep` (the cutoff, and so the deployed depth, is the unpruned
    model's). ``model`` itself is not changed."""
    device = next(model.parameters()).device
    base = evaluate_per_depth(model, batches(), device).accuracy
    curve = PruneCurve(label, model.config.connectivity, cutoff_depth(base, tolerance))
    curve.method = "movement"
    tuned = copy.deepcopy(model)
    with _folder(save_dir) as folder:

        def record(sparsity: float, current: StackModel) -> None:
            curve.levels.append(score_level(current, sparsity, curve, batches, folder))

        movement_prune(tuned, data, levels, settings, device=device, on_level=record)
    return curve


def score_level(
    pruned: StackModel, target: float, curve: PruneCurve, batches: Batches, folder: Path
) -> PruneLevel:
    """Save ``pruned``, reload it, count its zeros and score it at every depth, and count the
    non-zero parameters of the model as deployed (cut at ``curve.cutoff_depth``)."""
    path = save(pruned, folder / f"sparsity-{round(target * 100):02d}.safetensors")
    device = next(pruned.parameters()).device
    saved = load(path, device)
    counted = measure_sparsity(saved)
    accuracy = evaluate_per_depth(saved, batches(), device).accuracy
    deployed = saved.truncate(curve.cutoff_depth, keep_branches=False)
    return PruneLevel(
        target=target,
        sparsity=counted.blocks,
        overall_sparsity=counted.overall,
        nonzero_params=counted.total_all - counted.zeros_all,
        accuracy=accuracy,
        deployed_depth=curve.cutoff_depth,
        deployed_nonzero_params=count_nonzero(deployed),
    )


@contextmanager
def _folder(save_dir: str | Path | None) -> Iterator[Path]:
    if save_dir is not None:
        yield Path(save_dir)
        return
    with tempfile.TemporaryDirectory(prefix="acn-prune-") as tmp:
        yield Path(tmp)


def plot_curves(curves: Sequence[PruneCurve], path: str | Path, x_axis: str = "sparsity") -> Path:
    """Every run on one figure. ``x_axis="sparsity"``: accuracy vs measured block sparsity (full
    depth solid, the run's cutoff depth dashed); ``"deployed"``: accuracy of the model as
    deployed vs its non-zero parameters (the paper's model-size axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if x_axis not in ("sparsity", "deployed"):
        raise ValueError(f"x_axis must be 'sparsity' or 'deployed', got {x_axis!r}")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, curve in enumerate(curves):
        color = f"C{i}"
        name = f"{curve.label} ({curve.connectivity})"
        if x_axis == "deployed":
            points = [lv for lv in curve.levels if lv.deployed_nonzero_params is not None]
            x = [lv.deployed_nonzero_params for lv in points]
            y = [lv.deployed_accuracy for lv in points]
            ax.plot(x, y, "o-", color=color, label=f"{name}, depth {curve.cutoff_depth}")
            continue
        x = [lv.sparsity * 100 for lv in curve.levels]
        ax.plot(x, [lv.accuracy[-1] for lv in curve.levels], "o-", color=color, label=name)
        depth_label = f"{name}, depth {curve.cutoff_depth}"
        cut = [lv.accuracy[curve.cutoff_depth] for lv in curve.levels]
        ax.plot(x, cut, "s--", color=color, alpha=0.6, label=depth_label)
    if x_axis == "deployed":
        ax.set_xlabel("non-zero parameters of the model as deployed (cut at its cutoff)")
    else:
        ax.set_xlabel("sparsity of block weights (%)")
    ax.set_ylabel("test accuracy (%)")
    methods = sorted({c.method for c in curves})
    ax.set_title(f"{' / '.join(methods).capitalize()} pruning")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
