"""Accuracy vs sparsity: prune a trained model at several levels and score each pruned model.

Each pruned model goes through its model file (save, reload) before it is counted and scored, so
the reported sparsity and accuracy are those of what was saved. Every level is scored at every
depth in one pass; the curves keep the full depth and the unpruned model's cutoff depth.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from ..evaluation import evaluate_per_depth
from ..evaluation.cutoff import cutoff_depth
from ..models.base import StackModel
from ..serialization import load, save
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


@dataclass
class PruneCurve:
    """All levels of one run."""

    label: str
    connectivity: str
    cutoff_depth: int
    levels: list[PruneLevel] = field(default_factory=list)

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
            }
            for lv in self.levels
        ]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prune_sweep(
    model: StackModel,
    batches: Batches,
    sparsities: Sequence[float],
    *,
    label: str = "",
    tolerance: float = 0.5,
    save_dir: str | Path | None = None,
) -> PruneCurve:
    """Prune ``model`` at each fraction in ``sparsities`` and score every depth of each result.

    The cutoff depth is that of the unpruned model within ``tolerance`` accuracy points. With
    ``save_dir`` the pruned model files are kept there (``sparsity-XX.safetensors``).
    """
    device = next(model.parameters()).device
    base = evaluate_per_depth(model, batches(), device).accuracy
    curve = PruneCurve(label, model.config.connectivity, cutoff_depth(base, tolerance))
    with tempfile.TemporaryDirectory(prefix="acn-prune-") as tmp:
        folder = Path(save_dir) if save_dir is not None else Path(tmp)
        for target in sparsities:
            pruned, _ = global_magnitude_prune(model, target)
            path = save(pruned, folder / f"sparsity-{round(target * 100):02d}.safetensors")
            del pruned
            saved = load(path, device)
            counted = measure_sparsity(saved)
            accuracy = evaluate_per_depth(saved, batches(), device).accuracy
            curve.levels.append(
                PruneLevel(
                    target=target,
                    sparsity=counted.blocks,
                    overall_sparsity=counted.overall,
                    nonzero_params=counted.total_all - counted.zeros_all,
                    accuracy=accuracy,
                )
            )
    return curve


def plot_curves(curves: Sequence[PruneCurve], path: str | Path) -> Path:
    """Accuracy vs measured block sparsity for every run on one figure (full depth solid, the
    run's cutoff depth dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, curve in enumerate(curves):
        color = f"C{i}"
        x = [lv.sparsity * 100 for lv in curve.levels]
        name = f"{curve.label} ({curve.connectivity})"
        ax.plot(x, [lv.accuracy[-1] for lv in curve.levels], "o-", color=color, label=name)
        depth_label = f"{name}, depth {curve.cutoff_depth}"
        cut = [lv.accuracy[curve.cutoff_depth] for lv in curve.levels]
        ax.plot(x, cut, "s--", color=color, alpha=0.6, label=depth_label)
    ax.set_xlabel("sparsity of block weights (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Global magnitude pruning")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
