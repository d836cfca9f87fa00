"""Per-block gradient norms and clipping from one fused norm."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

import acn
from acn.models import tiny_overrides
from acn.train.grad_norms import GradNorms, clip_with_norm


def _backward(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = model.example_input(4, generator=g)
    y = torch.randint(0, 10, (4,), generator=g)
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()


def _block_norm(block):
    return torch.sqrt(sum(p.grad.pow(2).sum() for p in block.parameters())).item()


def test_per_block_norms_are_averaged_over_steps():
    torch.manual_seed(0)
    model = acn.create_model("mixer_s8", **tiny_overrides("mixer_s8"))
    tracker = GradNorms(model)
    expected = []
    for seed in range(3):
        _backward(model, seed)
        total = tracker.measure()
        manual = [p.grad for p in model.parameters()]
        assert float(total) == pytest.approx(
            torch.sqrt(sum(g.pow(2).sum() for g in manual)).item(), rel=1e-5
        )
        expected.append([_block_norm(b) for b in model.stack.blocks])
    mean = [sum(col) / 3 for col in zip(*expected)]
    assert tracker.read() == pytest.approx(mean, rel=1e-5)
    assert tracker.read() == [0.0] * model.depth  # read resets


def test_clip_matches_torch():
    torch.manual_seed(0)
    model = acn.create_model("mlp_s4", **tiny_overrides("mlp_s4"))
    twin = copy.deepcopy(model)
    _backward(model)
    _backward(twin)
    total = GradNorms(model).measure()
    clip_with_norm(list(model.parameters()), 0.1, total)
    torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.1)
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(a.grad, b.grad)
