"""Robustness to test-time input noise: clean and noisy accuracy of the same model, and the drop.

The paper's robustness claim is about the drop from clean accuracy, not about the noisy accuracy
alone (two models can start apart on clean data). :func:`noise_drop` scores one model on its test
split twice, clean and with noise added to the [0,1] pixels before normalisation
(:func:`acn.runs.evaldata.with_noise`), at every depth from one pass each; the drop at a depth is
clean minus noisy accuracy, in points (one number per model and noise setting).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from ..evaluation import evaluate_per_depth
from ..models.base import StackModel
from ..runs.evaldata import EvalData, with_noise


@dataclass
class NoiseDrop:
    """Accuracy (%) at depth 0..L, clean and noisy, for one noise setting."""

    sigma: float
    salt_pepper: float
    seed: int
    clean: list[float]
    noisy: list[float]

    @property
    def drop(self) -> list[float]:
        """Clean minus noisy accuracy at every depth (points; positive: the noise hurts)."""
        return [c - n for c, n in zip(self.clean, self.noisy)]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drop": self.drop}


def noisy_accuracy(
    model: StackModel,
    data: EvalData,
    sigma: float,
    salt_pepper: float,
    *,
    seed: int = 0,
    batch_size: int = 500,
    device: str | torch.device | None = None,
) -> list[float]:
    """Accuracy (%) at every depth on ``data``'s test split with the noise drawn from the global
    generator seeded with ``seed`` (the caller's random stream is left as it was)."""
    noisy = with_noise(data, sigma, salt_pepper)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return evaluate_per_depth(model, noisy.batches(batch_size), device).accuracy


def noise_drop(
    model: StackModel,
    data: EvalData,
    sigma: float,
    salt_pepper: float,
    *,
    seed: int = 0,
    batch_size: int = 500,
    device: str | torch.device | None = None,
) -> NoiseDrop:
    """Clean and noisy accuracy of ``model`` at every depth on ``data``'s test split, and the
    drop. The same ``seed`` draws the same noise for every model scored on the same data (a
    seed-paired comparison)."""
    clean = evaluate_per_depth(model, data.batches(batch_size), device).accuracy
    noisy = noisy_accuracy(
        model, data, sigma, salt_pepper, seed=seed, batch_size=batch_size, device=device
    )
    return NoiseDrop(sigma, salt_pepper, seed, clean, noisy)
