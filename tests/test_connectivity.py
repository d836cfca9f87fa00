"""Connectivity math: ACN sums, Table 1 gradients on the 1-D linear toy, dense-mode inits."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import acn
from _toy import Scale
from acn.connectivity import ConnectedStack
from acn.errors import ConfigError


def _prod(xs) -> float:
    return math.prod(xs) if xs else 1.0


def closed_form(mode: str, w: list[float], x0: float, i: int) -> float:
    """dy/dw_i (1-based i) from the paper's section 3.1."""
    L = len(w)
    before = w[: i - 1]  # w_1..w_{i-1}
    after = w[i:]  # w_{i+1}..w_L
    if mode == "feedforward":  # Eq. 4
        return _prod(after) * _prod(before) * x0
    if mode == "residual":  # Eq. 7
        return _prod([1 + v for v in after]) * _prod([1 + v for v in before]) * x0
    if mode == "acn":  # Eqs. 11-12
        backward = 1 + sum(_prod(w[i:j]) for j in range(i + 1, L + 1))
        return backward * _prod(before) * x0
    if mode == "acn-dg":  # the direct-gradient term alone: the "1" of the ACN backward term
        return _prod(before) * x0
    raise ValueError(mode)


@pytest.mark.parametrize("L", [3, 6])
@pytest.mark.parametrize("mode", ["feedforward", "residual", "acn", "acn-dg"])
@pytest.mark.parametrize("seed", [0, 1])
def test_table1_gradients_match_closed_forms(L, mode, seed):
    g = torch.Generator().manual_seed(seed)
    w = (torch.rand(L, generator=g, dtype=torch.float64) * 1.6 - 0.8).tolist()
    x0 = 1.3
    stack = acn.connect([Scale(v) for v in w], mode=mode)
    y = stack(torch.tensor(x0, dtype=torch.float64))
    y.backward()
    for i, block in enumerate(stack.blocks, start=1):
        assert block.w.grad.item() == pytest.approx(
            closed_form(mode, w, x0, i), rel=1e-12, abs=1e-12
        )


def test_acn_dg_differs_from_full_acn_gradient():
    # guards against a DG test that passes because DG and full gradients coincide
    w = [0.5, -0.7, 0.9]
    assert closed_form("acn", w, 1.0, 1) != pytest.approx(closed_form("acn-dg", w, 1.0, 1))


def test_acn_output_is_embedding_plus_sum_of_block_outputs():
    torch.manual_seed(0)
    blocks = [nn.Sequential(nn.Linear(8, 8), nn.Tanh()) for _ in range(5)]
    x0 = torch.randn(4, 8)
    y = acn.connect(blocks, mode="acn")(x0)
    xs, h = [x0], x0
    for b in blocks:
        h = b(h)
        xs.append(h)
    torch.testing.assert_close(y, torch.stack(xs).sum(0))


PLAIN_BLOCK_MODES = [m for m in acn.MODES if m != "value-residual"]  # that one needs attention


@pytest.mark.parametrize("mode", PLAIN_BLOCK_MODES)
def test_per_depth_last_equals_forward_and_depth_argument(mode):
    torch.manual_seed(0)
    blocks = [nn.Sequential(nn.Linear(6, 6), nn.GELU()) for _ in range(4)]
    stack = acn.connect(blocks, mode=mode, dim=6, rank=2)
    x0 = torch.randn(3, 6)
    reps = stack.per_depth(x0)
    assert len(reps) == 5
    # the head reads x_0 at depth 0; with hyper-connections the sum of its n = 4 copies
    torch.testing.assert_close(reps[0], 4 * x0 if mode.startswith("hyper") else x0)
    torch.testing.assert_close(reps[-1], stack(x0))
    for k in range(5):
        torch.testing.assert_close(reps[k], stack(x0, depth=k))


def test_acn_pass_keeps_no_history():
    stack = acn.connect([nn.Linear(4, 4) for _ in range(3)], mode="acn")
    state = stack.start(torch.randn(2, 4))
    for _ in range(3):
        state = stack.step(state)
        assert state.history is None


def test_denseformer_starts_as_its_residual_twin():
    torch.manual_seed(0)
    blocks = [nn.Sequential(nn.Linear(6, 6), nn.Tanh()) for _ in range(4)]
    x0 = torch.randn(3, 6)
    res = acn.connect(blocks, mode="residual")(x0)
    dense = acn.connect(blocks, mode="denseformer")(x0)
    torch.testing.assert_close(dense, res)


def test_densenet_block_input_starts_as_sum_of_earlier_outputs():
    torch.manual_seed(0)
    seen = []

    class Record(nn.Module):
        def forward(self, x):
            seen.append(x)
            return torch.tanh(x)

    stack = acn.connect([Record() for _ in range(3)], mode="densenet", dim=5)
    x0 = torch.randn(2, 5)
    stack(x0)
    x1 = x0 + torch.tanh(seen[0])  # stack adds the residual around plain user blocks
    torch.testing.assert_close(seen[0], x0)
    torch.testing.assert_close(seen[1], x0 + x1)


def test_bad_mode_and_depth_are_one_line_errors():
    with pytest.raises(ConfigError, match="unknown connectivity 'resnet'"):
        acn.connect([nn.Identity()], mode="resnet")
    with pytest.raises(ConfigError, match="needs the feature size"):
        acn.connect([nn.Identity()], mode="densenet")
    stack = acn.connect([nn.Identity()], mode="acn")
    with pytest.raises(ConfigError, match="depth must be in 0..1"):
        stack(torch.zeros(1), depth=2)
    with pytest.raises(ConfigError, match="needs blocks without residual"):
        ConnectedStack([nn.Identity()], "acn", blocks_have_residual=True)
