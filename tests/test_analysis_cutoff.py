"""Cutoff rule on batches of curves and its bootstrap confidence interval."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from acn.errors import ConfigError, DataError
from acn.evaluation.cutoff import bootstrap_cutoff, cutoff_depths, resampled_accuracy


def reference_cutoff(acc: list[float], tol: float) -> int:
    return next(k for k, a in enumerate(acc) if a >= acc[-1] - tol)


def synthetic_correct(p: list[float], n: int, seed: int = 0) -> torch.Tensor:
    """[len(p), n] per-sample correctness, depth k right with probability p[k]."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(len(p), n, generator=g) < torch.tensor(p)[:, None]


def test_vectorised_rule_matches_the_scalar_rule():
    g = torch.Generator().manual_seed(0)
    curves = torch.rand(200, 6, generator=g, dtype=torch.float64) * 100
    curves[:50, 2] = curves[:50, -1] - 0.5  # exact ties at the tolerance edge count as within
    got = cutoff_depths(curves, 0.5).tolist()
    assert got == [reference_cutoff(row, 0.5) for row in curves.tolist()]
    assert set(got[:50]) <= {0, 1, 2}


def test_resampled_accuracy_is_seeded_and_centred():
    correct = synthetic_correct([0.3, 0.8, 0.9], 1000)
    a = resampled_accuracy(correct, 300, seed=1)
    assert a.shape == (300, 3)
    assert torch.equal(
        a, resampled_accuracy(correct, 300, seed=1, chunk=70)
    )  # chunking is invisible
    assert not torch.equal(a, resampled_accuracy(correct, 300, seed=2))
    point = correct.double().mean(1) * 100
    p = point / 100
    binomial_sd = (p * (1 - p) / correct.shape[1]).sqrt() * 100
    assert torch.allclose(a.mean(0), point, atol=0.4)
    assert torch.allclose(a.std(0), binomial_sd, rtol=0.15)
    # every resample scores whole samples: accuracies are multiples of 100 / N
    hits = a * correct.shape[1] / 100
    assert torch.allclose(hits, hits.round(), atol=1e-6)


def test_identical_samples_resample_to_the_point_estimate():
    column = torch.tensor([False, True, True])
    correct = column[:, None].repeat(1, 50)
    assert torch.all(resampled_accuracy(correct, 20) == torch.tensor([0.0, 100.0, 100.0]))


def test_clear_gap_gives_a_tight_interval():
    correct = synthetic_correct([0.1, 0.5, 0.95, 0.95, 0.95], 3000)
    correct[3:] = correct[2]  # depths 2..4 identical: the cutoff is 2 in every resample
    ci = bootstrap_cutoff(correct, 0.5, 300, seed=0)
    assert (ci.cutoff, ci.low, ci.high, ci.mode) == (2, 2, 2, 2)
    assert ci.counts == [0, 0, 300, 0, 0]


def test_borderline_depth_gives_a_wide_interval_matching_numpy_percentiles():
    # depth 1 is 0.4 points below the full model: resamples fall on both sides of the tolerance
    n = 2000
    correct = torch.zeros(3, n, dtype=torch.bool)
    correct[2, :1800] = True
    correct[1, :1792] = True
    correct[0, :1000] = True
    ci = bootstrap_cutoff(correct, 0.5, 1000, seed=3)
    assert ci.cutoff == 1
    assert ci.low == 1 and ci.high == 2
    assert sum(ci.counts) == 1000 and ci.counts[0] == 0
    assert ci.mode == int(np.argmax(ci.counts))
    draws = np.repeat(np.arange(len(ci.counts)), ci.counts)
    assert ci.low == np.percentile(draws, 2.5, method="lower")
    assert ci.high == np.percentile(draws, 97.5, method="higher")


def test_bad_arguments_are_one_line_errors():
    correct = synthetic_correct([0.5, 0.6], 10)
    with pytest.raises(ConfigError, match="tolerance"):
        bootstrap_cutoff(correct, -1)
    with pytest.raises(ConfigError, match=r"takes 1\.\.100,000 resamples, got 0"):
        bootstrap_cutoff(correct, 0.5, 0)
    with pytest.raises(DataError, match="per-sample results"):
        bootstrap_cutoff(torch.zeros(3, 0, dtype=torch.bool))
