"""Direct-gradient share: closed forms on the 1-D linear toy, and side-effect freedom on models."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import acn
from _toy import Scale
from acn.errors import ConfigError
from acn.models import tiny_overrides
from acn.train.gradient_share import direct_gradient_share


class ResidualScale(Scale):
    """The same toy layer with its skip inside the block (x -> x + w x), as library blocks do."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.w * x


def closed_form_share(mode: str, w: list[float], i: int) -> float:
    """|DG_i / FG_i| for block i (1-based) of the toy, from paper.md section 3.1.

    ACN: DG_i = prod_{m<i} w_m x0, FG_i = (1 + sum_{j>i} prod_{k=i+1..j} w_k) DG_i.
    Residual: DG_i = prod_{m<i} (1 + w_m) x0, FG_i = prod_{k>i} (1 + w_k) DG_i.
    """
    L = len(w)
    if mode == "acn":
        backward = 1 + sum(math.prod(w[i:j]) for j in range(i + 1, L + 1))
    elif mode == "residual":
        backward = math.prod(1 + v for v in w[i:])
    else:
        raise ValueError(mode)
    return abs(1 / backward)


def _toy_share(
    mode: str, w: list[float], x0: float = 1.3, skip_in_block: bool = False
) -> list[float]:
    layer = ResidualScale if skip_in_block else Scale
    stack = acn.connect([layer(v) for v in w], mode=mode, blocks_have_residual=skip_in_block)
    x = torch.tensor(x0, dtype=torch.float64)
    return direct_gradient_share(stack, x, None, loss_fn=lambda out, _: out)


@pytest.mark.parametrize(
    ("mode", "skip_in_block"), [("acn", False), ("residual", False), ("residual", True)]
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_toy_share_matches_closed_form(mode, skip_in_block, seed):
    g = torch.Generator().manual_seed(seed)
    w = (torch.rand(5, generator=g, dtype=torch.float64) * 1.6 - 0.8).tolist()
    shares = _toy_share(mode, w, skip_in_block=skip_in_block)
    expected = [closed_form_share(mode, w, i) for i in range(1, 6)]
    assert shares == pytest.approx(expected, rel=1e-12)
    assert shares[-1] == pytest.approx(1.0)  # the last block has no later blocks
    assert any(abs(s - 1) > 1e-3 for s in shares[:-1])  # the check is not trivially all-ones


def test_toy_share_of_dg_and_feedforward():
    w = [0.5, -0.7, 0.9]
    assert _toy_share("acn-dg", w) == pytest.approx([1.0, 1.0, 1.0])
    # feed-forward has no path to the output that skips later blocks
    assert _toy_share("feedforward", w) == pytest.approx([0.0, 0.0, 1.0])


def test_block_with_zero_full_gradient_gets_nan():
    # w_2 = -1 makes the ACN backward term of block 1 zero: 1 + w_2 = 0
    shares = _toy_share("acn", [0.5, -1.0])
    assert math.isnan(shares[0]) and shares[1] == pytest.approx(1.0)


@pytest.mark.parametrize("connectivity", ["acn", "residual", "denseformer", "densenet"])
def test_model_share_leaves_model_untouched(connectivity):
    torch.manual_seed(0)
    model = acn.create_model(
        "mixer_s8", connectivity=connectivity, dropout=0.1, **tiny_overrides("mixer_s8")
    )
    model.train()
    x, y = model.example_input(4), torch.randint(0, 10, (4,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    shares = direct_gradient_share(model, x, y)
    assert len(shares) == model.depth and all(math.isfinite(s) and s >= 0 for s in shares)
    assert shares[-1] == pytest.approx(1.0, rel=1e-5)
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(torch.get_rng_state(), rng)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert direct_gradient_share(model, x, y) == shares  # same batch, same numbers


def test_model_share_for_dg_model_is_one():
    torch.manual_seed(0)
    model = acn.create_model("mlp_s4", connectivity="acn-dg", **tiny_overrides("mlp_s4"))
    shares = direct_gradient_share(model, torch.randn(6, 20), torch.randint(0, 10, (6,)))
    assert shares == pytest.approx([1.0] * model.depth)


def test_model_share_matches_explicit_dg_twin():
    # the ACN model's direct gradient is the gradient of its acn-dg twin with the same weights
    torch.manual_seed(0)
    model = acn.create_model("mlp_s4", connectivity="acn", **tiny_overrides("mlp_s4"))
    twin = acn.create_model("mlp_s4", connectivity="acn-dg", **tiny_overrides("mlp_s4"))
    twin.load_state_dict(model.state_dict())
    x, y = torch.randn(6, 20), torch.randint(0, 10, (6,))
    norms = []
    for m in (twin, model):
        m.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        norms.append(
            [torch.cat([p.grad.flatten() for p in b.parameters()]).norm() for b in m.stack.blocks]
        )
    expected = [float(d / f) for d, f in zip(*norms)]
    assert direct_gradient_share(model, x, y) == pytest.approx(expected, rel=1e-5)


def test_not_a_stack_is_a_config_error():
    with pytest.raises(ConfigError, match="needs an acn model or stack"):
        direct_gradient_share(nn.Linear(2, 2), torch.randn(1, 2), torch.tensor([0]))
