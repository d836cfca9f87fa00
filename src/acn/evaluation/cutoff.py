"""Cutoff depth: the smallest depth whose accuracy is within a tolerance of the full model.

The paper reads cutoffs off a plot ("comparable performance"); :func:`cutoff_depth` makes the
rule explicit and :func:`bootstrap_cutoff` says how sure we are of it: the test samples are
resampled with replacement, the accuracy per depth and the cutoff recomputed for every resample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError, DataError

REFERENCES = (
    "last",
    "best",
)  # what the cutoff is measured against: the full model, or the best depth


def cutoff_depths(accuracy: Tensor, tolerance: float = 0.5, reference: str = "last") -> Tensor:
    """The cutoff rule on a batch of curves: ``accuracy`` [..., L+1] (percent) -> [...] (int64).

    Smallest k with ``accuracy[k] >= accuracy[L] - tolerance`` (``reference="last"``; depth L
    always qualifies) or ``>= max_j accuracy[j] - tolerance`` (``"best"``: the best depth always
    qualifies, so a top block that hurts does not hold the cutoff up).
    """
    if accuracy.shape[-1] == 0:
        raise ValueError("need at least one depth")
    if not (isinstance(tolerance, (int, float)) and 0 <= tolerance < math.inf):
        # NaN would make no depth qualify and argmax answer 0: a silent depth-0 cut
        raise ConfigError(f"tolerance must be a finite number >= 0, got {tolerance}")
    if reference not in REFERENCES:
        raise ConfigError(f"cutoff reference must be one of {REFERENCES}, got {reference!r}")
    ref = accuracy[..., -1:] if reference == "last" else accuracy.amax(dim=-1, keepdim=True)
    within = accuracy >= ref - tolerance
    return within.to(torch.uint8).argmax(dim=-1)  # argmax returns the first maximum


def cutoff_depth(accuracy: Sequence[float], tolerance: float = 0.5) -> int:
    """Smallest k with ``accuracy[k] >= accuracy[-1] - tolerance`` (accuracies in percent)."""
    if not accuracy:
        raise ValueError("need at least one depth")
    return int(cutoff_depths(torch.tensor(accuracy, dtype=torch.float64), tolerance))


@dataclass
class CutoffInterval:
    """A cutoff depth with its bootstrap distribution.

    ``low``/``high`` are the 2.5/97.5 percentiles of the resampled cutoffs (a 95% interval),
    ``mode`` the most frequent resampled cutoff (the smallest one on a tie), ``counts[k]`` how
    many of the ``num_resamples`` resamples chose depth k.
    """

    cutoff: int
    low: int
    high: int
    mode: int
    counts: list[int]
    num_resamples: int
    tolerance: float
    seed: int


MAX_RESAMPLES = 100_000  # a 95% interval is stable long before; 1e20 is a typo, not a plan


def resampled_means(
    values: Tensor, num_resamples: int, seed: int = 0, chunk: int = 200, scale: float = 1.0
) -> Tensor:
    """Mean per depth (times ``scale``) of ``num_resamples`` bootstrap resamples of the columns
    of ``values`` [L+1, N] (per-sample results at every depth); [B, L+1] in float64. Each
    resample is a count vector over the N samples (multinomial, as drawing N samples with
    replacement), so all depths of a resample are scored with one matrix product."""
    depths, n = values.shape
    gen = torch.Generator().manual_seed(seed)
    per_sample = values.to(torch.float64).t()  # [N, L+1]
    parts = []
    for start in range(0, num_resamples, chunk):
        rows = min(chunk, num_resamples - start)
        draws = torch.randint(n, (rows, n), generator=gen)
        counts = torch.zeros(rows, n, dtype=torch.float64).scatter_add_(
            1, draws, torch.ones(rows, n, dtype=torch.float64)
        )
        parts.append(counts @ per_sample * (scale / n))
    return torch.cat(parts) if parts else torch.zeros(0, depths, dtype=torch.float64)


def resampled_accuracy(
    correct: Tensor, num_resamples: int, seed: int = 0, chunk: int = 200
) -> Tensor:
    """Accuracy (%) per depth of ``num_resamples`` bootstrap resamples of the columns of
    ``correct`` [L+1, N]: [B, L+1] in float64 (see :func:`resampled_means`)."""
    return resampled_means(correct, num_resamples, seed, chunk, scale=100.0)


def bootstrap_cutoff(
    correct: Tensor,
    tolerance: float = 0.5,
    num_resamples: int = 1000,
    seed: int = 0,
    reference: str = "last",
) -> CutoffInterval:
    """Cutoff depth of per-sample results ``correct`` [L+1, N] and its bootstrap 95% interval
    (``reference`` as in :func:`cutoff_depths`)."""
    if not 0 <= tolerance < math.inf:  # NaN fails this too
        raise ConfigError(f"tolerance must be >= 0 accuracy points, got {tolerance}")
    _check_sample_results(correct, num_resamples)
    point = correct.double().mean(dim=1) * 100  # as DepthEvaluation.accuracy
    resampled = resampled_accuracy(correct, num_resamples, seed)
    return _interval(point, resampled, tolerance, reference, num_resamples, seed)


# Language models: the cutoff is the smallest depth whose validation loss is within this many
# nats per token of the best depth's. 0.02 nats is a 2% rise in perplexity (exp(0.02) = 1.020).
# Measured on the residual gpt_char of configs/gpt_char_nanogpt.yaml: the bootstrap standard error
# of its validation loss over tiny-shakespeare's 1,742 validation windows is 0.0055 nats, that of
# the difference between two depths 0.002, so a depth 0.02 nats behind is reliably behind; and it
# is under half of 0.05 nats, the margin within which two models count as equally good here.
LM_TOLERANCE = 0.02


def loss_cutoff_depth(loss: Sequence[float], tolerance: float = LM_TOLERANCE) -> int:
    """Smallest k with ``loss[k] <= min(loss) + tolerance`` (losses in nats)."""
    if not loss:
        raise ValueError("need at least one depth")
    values = -torch.tensor(loss, dtype=torch.float64)
    return int(cutoff_depths(values, tolerance, reference="best"))


def bootstrap_loss_cutoff(
    nll: Tensor, tolerance: float = LM_TOLERANCE, num_resamples: int = 1000, seed: int = 0
) -> CutoffInterval:
    """:func:`loss_cutoff_depth` of per-sample losses ``nll`` [L+1, N] and its bootstrap 95%
    interval. A sample should be a sequence (its mean loss per token, for sequences of equal
    length), not a token: tokens of one text are not independent draws."""
    if not 0 <= tolerance < math.inf:  # NaN fails this too
        raise ConfigError(f"tolerance must be >= 0 nats, got {tolerance}")
    _check_sample_results(nll, num_resamples)
    point = -nll.double().mean(dim=1)
    resampled = resampled_means(-nll.double(), num_resamples, seed)
    return _interval(point, resampled, tolerance, "best", num_resamples, seed)


def _check_sample_results(values: Tensor, num_resamples: int) -> None:
    if not 1 <= num_resamples <= MAX_RESAMPLES:
        raise ConfigError(
            f"the bootstrap takes 1..{MAX_RESAMPLES:,} resamples, got {num_resamples}"
        )
    if values.dim() != 2 or values.shape[1] == 0:
        raise DataError(f"need per-sample results [depths, samples], got {list(values.shape)}")


def _interval(
    point: Tensor,
    resampled: Tensor,
    tolerance: float,
    reference: str,
    num_resamples: int,
    seed: int,
) -> CutoffInterval:
    """The cutoff of ``point`` [L+1] with the distribution of the ``resampled`` [B, L+1] ones
    (higher is better in both)."""
    cutoffs = cutoff_depths(resampled, tolerance, reference)
    counts = torch.bincount(cutoffs, minlength=point.shape[0])
    # interval ends rounded outwards to depths that resamples actually chose
    as_float = cutoffs.to(torch.float64)
    low = torch.quantile(as_float, 0.025, interpolation="lower")
    high = torch.quantile(as_float, 0.975, interpolation="higher")
    return CutoffInterval(
        cutoff=int(cutoff_depths(point, tolerance, reference)),
        low=int(low),
        high=int(high),
        mode=int(counts.argmax()),
        counts=counts.tolist(),
        num_resamples=num_resamples,
        tolerance=tolerance,
        seed=seed,
    )
