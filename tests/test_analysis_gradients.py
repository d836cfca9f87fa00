"""Direct-gradient share: closed forms on the 1-D linear toy, and side-effect freedom on models."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import acn
from _toy import Scale
from acn.blocks import MixerBlock, TransformerBlock
from acn.errors import ConfigError
from acn.models import tiny_overrides
from acn.train.gradient_share import (
    direct_and_full_gradient_norms,
    direct_gradient_share,
    direct_paths_only,
)


class ResidualScale(Scale):
    """The same toy layer with its skip inside the block (x -> x + w x), as library blocks do."""

    adds_input = True  # its output is x + g(x): the DG share may add the identity's gradient back

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.w * x


def closed_form_share(mode: str, w: list[float], i: int) -> float:
    """|DG_i / FG_i| for block i (1-based) of the toy, from the paper's section 3.1.

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


@pytest.mark.parametrize(
    "connectivity",
    ["acn", "residual", "denseformer", "densenet", "hacn", "hyper-dynamic", "laurel-lr"],
)
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


def _vjp(out: torch.Tensor, wrt: list[torch.Tensor], v: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad(out, wrt, v, allow_unused=False))


def _non_additive_blocks() -> list[tuple[nn.Module, torch.Tensor, object]]:
    """(block, input, the block's output as a function of x through its skip terms alone)."""
    torch.manual_seed(0)
    mixer = MixerBlock(5, 8, 6, 12, residual=True, tail=True).double()

    def mixer_inner(x):  # the sub-layers with their inner residual adds
        h = x + mixer.token_mlp(mixer.norm1(x))
        return h + mixer.channel_mlp(mixer.norm2(h))

    def mixer_skip(x):
        const = mixer.tail_fc(mixer_inner(x.detach())).detach()
        return mixer.tail_norm(torch.relu(const + x))

    bert = TransformerBlock(8, 2, 12, residual=True, norm_first=False).double()

    def bert_skip(x):
        a = bert.attn(x.detach()).detach()
        h = bert.norm1(x.detach() + a)
        return bert.norm2(bert.norm1(x + a) + bert.mlp(h).detach())

    x = torch.randn(3, 5, 8, dtype=torch.float64)
    return [(mixer, x, mixer_skip), (bert, x, bert_skip)]


@pytest.mark.parametrize("index", [0, 1], ids=["mixer-tail", "post-ln-bert"])
def test_direct_forward_of_a_non_additive_block(index):
    """Same value; parameters get their full gradient; x only its skip terms' gradient."""
    block, x, skip_only = _non_additive_blocks()[index]
    assert not block.adds_input
    x = x.clone().requires_grad_(True)
    v = torch.randn_like(x)
    params = list(block.parameters())
    direct = block.direct_forward(x)
    assert torch.equal(direct, block(x))
    got = _vjp(direct, [x, *params], v)
    full_params = _vjp(block(x.detach()), params, v)
    expected_x = _vjp(skip_only(x), [x], v)[0]
    torch.testing.assert_close(got[0], expected_x, rtol=1e-12, atol=1e-12)
    for g, f in zip(got[1:], full_params):
        torch.testing.assert_close(g, f, rtol=1e-12, atol=1e-12)
    # and it is not the identity that x + g(x) blocks get back
    assert (got[0] - v).abs().max() > 1e-3


def test_dg_share_of_the_paper_mixer_tail_in_a_residual_stack():
    """DG_1 of a 2-block residual paper-style Mixer: the loss's gradient at x_2, carried back to
    x_1 through block 2's tail skip only, then into block 1's parameters."""
    torch.manual_seed(0)
    over = {**tiny_overrides("mixer_s8"), "depth": 2}
    model = acn.create_model("mixer_s8", connectivity="residual", **over).double().eval()
    x = model.example_input(4).double()
    y = torch.randint(0, 10, (4,))
    first, second = model.stack.blocks
    loss_of = lambda out: torch.nn.functional.cross_entropy(out, y)  # noqa: E731
    direct, full = direct_and_full_gradient_norms(model.stack, lambda: loss_of(model(x)))

    x0 = model.embed(x)
    x1 = first(x0.detach())
    x1_leaf = x1.detach().requires_grad_(True)
    x2 = second(x1_leaf)
    (g2,) = torch.autograd.grad(loss_of(model.head(model.norm(model.pool(x2)))), [x2])
    h = x1_leaf + second.token_mlp(second.norm1(x1_leaf))
    inner = (h + second.channel_mlp(second.norm2(h))).detach()
    through_skip = second.tail_norm(torch.relu(second.tail_fc(inner) + x1_leaf))
    (g1,) = torch.autograd.grad(through_skip, [x1_leaf], g2)
    grads = torch.autograd.grad(x1, list(first.parameters()), g1, retain_graph=True)
    expected = sum(float(g.pow(2).sum()) for g in grads) ** 0.5
    assert direct[0] == pytest.approx(expected, rel=1e-10)
    assert direct[1] == pytest.approx(full[1], rel=1e-10)
    assert direct[0] != pytest.approx(full[0], rel=1e-2)
    # what an identity skip (the x + g(x) rule) would have claimed: a different number
    identity = torch.autograd.grad(x1, list(first.parameters()), g2)
    assert sum(float(g.pow(2).sum()) for g in identity) ** 0.5 != pytest.approx(expected, rel=1e-2)


@pytest.mark.parametrize("name", ["mixer_cifar_paper", "bert_tiny"])
def test_model_share_on_non_additive_residual_families(name):
    torch.manual_seed(0)
    model = acn.create_model(name, connectivity="residual", **tiny_overrides(name))
    x = model.example_input(4)
    y = torch.randint(0, 2, (4,))
    shares = direct_gradient_share(model, x, y)
    assert all(math.isfinite(s) and s >= 0 for s in shares)
    assert shares[-1] == pytest.approx(1.0, rel=1e-5)
    assert all(type(b).forward is b.forward.__func__ for b in model.stack.blocks)  # restored


class _Squash(nn.Module):
    """A residual-type block whose output is not x + g(x), and which says nothing about it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x + 0.5 * x)


def test_unknown_non_additive_block_is_refused_in_one_line():
    stack = acn.connect([_Squash(), _Squash()], mode="residual", blocks_have_residual=True)
    with (
        pytest.raises(ConfigError, match="not defined for _Squash blocks") as e,
        direct_paths_only(stack),
    ):
        pass
    assert "\n" not in str(e.value)
