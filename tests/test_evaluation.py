"""Per-depth evaluation and the cutoff rule."""

from __future__ import annotations

import pytest
import torch

import acn
from acn.errors import DataError
from acn.evaluation import evaluate_per_depth
from acn.evaluation.cutoff import cutoff_depth
from acn.models import tiny_overrides


def test_evaluate_matches_manual_per_depth_argmax():
    torch.manual_seed(0)
    model = acn.create_model("mlp_s4", **tiny_overrides("mlp_s4"))
    xs = [torch.randn(5, 20) for _ in range(3)]
    ys = [torch.randint(0, 10, (5,)) for _ in range(3)]
    ev = evaluate_per_depth(model, zip(xs, ys))
    assert ev.correct.shape == (model.depth + 1, 15)
    for k in range(model.depth + 1):
        manual = sum(int((model.eval()(x, depth=k).argmax(-1) == y).sum()) for x, y in zip(xs, ys))
        assert ev.accuracy[k] == pytest.approx(100 * manual / 15)
    model.train()
    evaluate_per_depth(model, zip(xs, ys))
    assert model.training


def test_labels_out_of_range_is_a_data_error():
    model = acn.create_model("mlp_s4", **tiny_overrides("mlp_s4"))
    with pytest.raises(DataError, match="does not fit a model with 10 classes"):
        evaluate_per_depth(model, [(torch.randn(2, 20), torch.tensor([3, 10]))])


@pytest.mark.parametrize(
    ("acc", "tol", "expected"),
    [
        ([10, 50, 90, 91, 91], 0.5, 3),
        ([10, 50, 90, 91, 91], 1.0, 2),
        ([10, 20, 30], 0.5, 2),
        ([80, 70, 79.6], 0.5, 0),
    ],
)
def test_cutoff_depth(acc, tol, expected):
    assert cutoff_depth(acc, tol) == expected
