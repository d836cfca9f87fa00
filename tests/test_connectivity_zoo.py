"""The 2024-26 connectivity modes on the 1-D linear toy of Table 1: gradients against closed forms
(hacn, LAuReL-RW, single-stream hyper-connections), their limits (residual, ACN), and the
direct-gradient share, which each mode's closed form also gives."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import acn
from _toy import Scale
from acn.errors import ConfigError
from acn.train.gradient_share import direct_gradient_share
from test_connectivity import closed_form


def _weights(seed: int, n: int, low: float = -0.8, high: float = 0.8) -> list[float]:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, generator=g, dtype=torch.float64) * (high - low) + low).tolist()


def _toy(mode: str, w: list[float], **options) -> acn.ConnectedStack:
    return acn.connect([Scale(v) for v in w], mode=mode, dim=1, **options).double()


def _grads(stack: acn.ConnectedStack, x0: float = 1.3) -> tuple[list[float], float]:
    y = stack(torch.tensor([x0], dtype=torch.float64)).sum()
    y.backward()
    return [b.w.grad.item() for b in stack.blocks], y.item()


# -- hacn: x_i = g_i x_{i-1} + w_i x_{i-1}; the head reads x_0 + sum_i w_i x_{i-1} ----------------


def hacn_closed_form(w: list[float], g: list[float], x0: float, i: int) -> tuple[float, float]:
    """(dy/dw_i, dy/dalpha_i) for block i (1-based).

    x_{i-1} = x0 prod_{j<i} (g_j + w_j); c_i = dy/dx_i through later blocks
    = sum_{j>i} w_j prod_{i<k<j} (g_k + w_k); dy/dw_i = x_{i-1} (1 + c_i); dy/dg_i = x_{i-1} c_i.
    """
    x_prev = x0 * math.prod(g[j] + w[j] for j in range(i - 1))
    c = sum(w[j] * math.prod(g[k] + w[k] for k in range(i, j)) for j in range(i, len(w)))
    return x_prev * (1 + c), -x_prev * c


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hacn_gradients_match_closed_form(seed):
    w, alpha = _weights(seed, 5), _weights(seed + 10, 5, 0.0, 1.0)
    stack = _toy("hacn", w)
    with torch.no_grad():
        for wire, a in zip(stack.wires, alpha):
            wire.alpha.fill_(a)
    got, _ = _grads(stack)
    g = [1 - a for a in alpha]
    for i in range(1, 6):
        dw, dalpha = hacn_closed_form(w, g, 1.3, i)
        assert got[i - 1] == pytest.approx(dw, rel=1e-12, abs=1e-12)
        assert stack.wires[i - 1].alpha.grad.item() == pytest.approx(dalpha, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("alpha", "limit"), [(0.0, "residual"), (1.0, "acn")])
def test_hacn_limits_are_residual_and_acn(alpha, limit):
    """alpha = 0: Table 1's residual gradients (Eq. 7); alpha = 1: the ACN's (Eqs. 11-12)."""
    w = _weights(3, 6)
    got, y = _grads(_toy("hacn", w, alpha=alpha))
    assert got == pytest.approx([closed_form(limit, w, 1.3, i) for i in range(1, 7)], rel=1e-12)
    _, y_limit = _grads(_toy(limit, w))
    assert y == pytest.approx(y_limit, rel=1e-12)


# -- LAuReL-RW: x_i = a_i w_i x_{i-1} + b_i x_{i-1} ---------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_laurel_rw_gradients_match_closed_form(seed):
    w, a, b = _weights(seed, 5), _weights(seed + 1, 5, 0.5, 1.5), _weights(seed + 2, 5, 0.5, 1.5)
    stack = _toy("laurel", w)
    with torch.no_grad():
        for wire, ai, bi in zip(stack.wires, a, b):
            wire.rw.copy_(torch.tensor([[ai, bi]], dtype=torch.float64))
    got, _ = _grads(stack)
    x0 = 1.3
    for i in range(1, 6):
        x_prev = x0 * math.prod(a[j] * w[j] + b[j] for j in range(i - 1))
        after = math.prod(a[j] * w[j] + b[j] for j in range(i, 5))
        wire = stack.wires[i - 1]
        assert got[i - 1] == pytest.approx(a[i - 1] * x_prev * after, rel=1e-12)
        assert wire.rw.grad[0, 0].item() == pytest.approx(w[i - 1] * x_prev * after, rel=1e-12)
        assert wire.rw.grad[0, 1].item() == pytest.approx(x_prev * after, rel=1e-12)


def test_laurel_at_its_initial_weights_is_the_residual_net():
    w = _weights(4, 6)
    for mode in ("laurel", "laurel-lr"):
        got, y = _grads(_toy(mode, w, rank=1))
        assert got == pytest.approx([closed_form("residual", w, 1.3, i) for i in range(1, 7)])
        assert y == pytest.approx(_grads(_toy("residual", w))[1], rel=1e-12)


# -- hyper-connections, one stream: x_i = b_i w_i (a_i x_{i-1}) + r_i x_{i-1} --------------------


@pytest.mark.parametrize("mode", ["hyper", "hyper-dynamic"])
def test_single_stream_hyper_connection_starts_as_the_residual_net(mode):
    w = _weights(5, 5)
    got, y = _grads(_toy(mode, w, streams=1))
    assert got == pytest.approx([closed_form("residual", w, 1.3, i) for i in range(1, 6)])
    assert y == pytest.approx(_grads(_toy("residual", w))[1], rel=1e-12)


def test_single_stream_static_hyper_connection_matches_closed_form_and_laurel_rw():
    """n = 1 SHC with width weight a = 1 is LAuReL-RW with weights (b, r)."""
    w, b, r = _weights(6, 5), _weights(7, 5, 0.5, 1.5), _weights(8, 5, 0.5, 1.5)
    for with_a in (False, True):
        a = _weights(9, 5, 0.5, 1.5) if with_a else [1.0] * 5
        stack = _toy("hyper", w, streams=1)
        with torch.no_grad():
            for wire, ai, bi, ri in zip(stack.wires, a, b, r):
                wire.hyper[0].static_alpha.copy_(torch.tensor([[ai, ri]], dtype=torch.float64))
                wire.hyper[0].static_beta.fill_(bi)
        got, y = _grads(stack)
        x_prev = 1.3
        for i in range(5):
            after = math.prod(b[j] * w[j] * a[j] + r[j] for j in range(i + 1, 5))
            assert got[i] == pytest.approx(b[i] * a[i] * x_prev * after, rel=1e-12)
            x_prev *= b[i] * w[i] * a[i] + r[i]
        if not with_a:
            laurel = _toy("laurel", w)
            with torch.no_grad():
                for wire, bi, ri in zip(laurel.wires, b, r):
                    wire.rw.copy_(torch.tensor([[bi, ri]], dtype=torch.float64))
            assert y == pytest.approx(_grads(laurel)[1], rel=1e-12)


def test_hyper_streams_start_as_copies_of_the_residual_stream():
    """At init every stream is the residual stream, so the head reads n times it."""
    torch.manual_seed(0)
    blocks = [nn.Sequential(nn.Linear(6, 6), nn.Tanh()) for _ in range(4)]
    x0 = torch.randn(3, 6)
    residual = acn.connect(blocks, mode="residual").per_depth(x0)
    for n in (1, 3):
        for mode in ("hyper", "hyper-dynamic"):
            reps = acn.connect(blocks, mode=mode, dim=6, streams=n).per_depth(x0)
            for got, want in zip(reps, residual):
                torch.testing.assert_close(got, n * want)


# -- direct-gradient share: closed forms ------------------------------------------------------


def test_dg_share_of_hacn_laurel_and_single_stream_hyper_match_closed_forms():
    w, x0 = _weights(11, 5), torch.tensor([1.3], dtype=torch.float64)
    alpha, a, b = _weights(12, 5, 0.0, 1.0), _weights(13, 5, 0.5, 1.5), _weights(14, 5, 0.5, 1.5)
    loss = lambda out, _: out.sum()  # noqa: E731

    hacn = _toy("hacn", w)
    with torch.no_grad():
        for wire, al in zip(hacn.wires, alpha):
            wire.alpha.fill_(al)
    g = [1 - al for al in alpha]
    # the direct path of block i is its report w_i x_{i-1} alone: DG_i / FG_i = 1 / |1 + c_i|
    want = []
    for i in range(1, 6):
        x_prev = math.prod(g[j] + w[j] for j in range(i - 1))
        want.append(abs(x_prev / hacn_closed_form(w, g, 1.0, i)[0]))
    assert direct_gradient_share(hacn, x0, None, loss) == pytest.approx(want, rel=1e-12)
    assert any(abs(s - 1) > 1e-3 for s in want[:-1])

    laurel = _toy("laurel", w)
    hyper = _toy("hyper", w, streams=1)
    with torch.no_grad():
        for lw, hw, ai, bi in zip(laurel.wires, hyper.wires, a, b):
            lw.rw.copy_(torch.tensor([[ai, bi]], dtype=torch.float64))
            hw.hyper[0].static_alpha.copy_(torch.tensor([[1.0, bi]], dtype=torch.float64))
            hw.hyper[0].static_beta.fill_(ai)
    # skips only: prod_{j>i} b_j, against prod_{j>i} (a_j w_j + b_j)
    want = [
        abs(math.prod(b[i + 1 :]) / math.prod(a[j] * w[j] + b[j] for j in range(i + 1, 5)))
        for i in range(5)
    ]
    assert direct_gradient_share(laurel, x0, None, loss) == pytest.approx(want, rel=1e-12)
    assert direct_gradient_share(hyper, x0, None, loss) == pytest.approx(want, rel=1e-12)


# -- bad options --------------------------------------------------------------------------------


def test_bad_options_are_one_line_errors():
    blocks = [nn.Identity()]
    with pytest.raises(ConfigError, match="hyper-connections need 1..64 streams, got 0"):
        acn.connect(blocks, mode="hyper", streams=0)
    with pytest.raises(ConfigError, match="1..64 streams, got 65"):
        acn.connect(blocks, mode="hyper-dynamic", dim=4, streams=65)
    with pytest.raises(ConfigError, match="laurel_rank 5 is larger than the width 4"):
        acn.connect(blocks, mode="laurel-lr", dim=4, rank=5)
    with pytest.raises(ConfigError, match="laurel-lr join needs the feature size"):
        acn.connect(blocks, mode="laurel-lr")
    with pytest.raises(ConfigError, match=r"hacn_alpha must be in \[0, 1\], got 1.5"):
        acn.connect(blocks, mode="hacn", alpha=1.5)
    with pytest.raises(ConfigError, match="'value-residual' needs the library's attention"):
        acn.connect(blocks, mode="value-residual")
    with pytest.raises(ConfigError, match="unknown connectivity 'hyperconnections'"):
        acn.connect(blocks, mode="hyperconnections")


# -- acn-weighted: y = x_0 + sum_i c_i x_i, x_i = w_i x_{i-1} ------------------------------------


def test_weighted_acn_gradients_match_closed_form_and_start_as_the_acn():
    w, c = _weights(15, 5), _weights(16, 5, 0.5, 1.5)
    got, y = _grads(_toy("acn-weighted", w))
    assert got == pytest.approx([closed_form("acn", w, 1.3, i) for i in range(1, 6)], rel=1e-12)
    assert y == pytest.approx(_grads(_toy("acn", w))[1], rel=1e-12)
    stack = _toy("acn-weighted", w)
    with torch.no_grad():
        for long, ci in zip(stack.long, c):
            long.weight.fill_(ci)
    got, _ = _grads(stack)
    for i in range(1, 6):
        # dy/dw_i = prod_{k<i} w_k x0 (c_i + sum_{j>i} c_j prod_{i<k<=j} w_k)
        back = c[i - 1] + sum(c[j] * math.prod(w[i : j + 1]) for j in range(i, 5))
        assert got[i - 1] == pytest.approx(math.prod(w[: i - 1]) * 1.3 * back, rel=1e-12)
        x_i = 1.3 * math.prod(w[:i])
        assert stack.long[i - 1].weight.grad.item() == pytest.approx(x_i, rel=1e-12)
