"""Hyper-connections against the public reference implementation (the ``hyper-connections``
package on PyPI, a test-only extra: ``pip install -e ".[reference]"``): the same sub-layers and
the same connection weights give the same output, static (SHC) and dynamic (DHC), and both start
from the same weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import acn
from acn.models import tiny_overrides

hc = pytest.importorskip(
    "hyper_connections",
    reason='the reference hyper-connections package is not installed (pip install -e ".[reference]")',
)

NAMES = ["mlp_s4", "mixer_std_s8", "vit_tiny_cifar"]


class Branch(nn.Module):
    """A sub-layer of one of our blocks as the reference's ``branch`` (holds no parameters)."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def sublayers(block: nn.Module) -> list:
    if hasattr(block, "attn"):
        return [lambda t: block.attn(block.norm1(t)), lambda t: block.mlp(block.norm2(t))]
    if hasattr(block, "token_mlp"):
        return [
            lambda t: block.token_mlp(block.norm1(t)),
            lambda t: block.channel_mlp(block.norm2(t)),
        ]
    return [lambda t: block.mlp(block.norm(t))]


def reference_joins(model: acn.StackModel, n: int, copy: bool) -> list[list[nn.Module]]:
    """The reference's HyperConnections around every sub-layer of ``model``, with our weights
    (``copy``) or as the reference initialises them."""
    dim = model.width
    out = []
    for i, block in enumerate(model.stack.blocks):
        fns = sublayers(block)
        row = []
        for k, fn in enumerate(fns):
            ref = hc.HyperConnections(
                n, dim=dim, branch=Branch(fn), layer_index=i * len(fns) + k
            ).double()
            ours = block.wire.hyper[k]
            if copy:
                with torch.no_grad():
                    ref.static_alpha.copy_(ours.static_alpha)
                    ref.static_beta.copy_(ours.static_beta)
                    if ours.dynamic:
                        ref.norm.gamma.copy_(ours.norm_weight - 1)  # it scales by gamma + 1
                        ref.dynamic_alpha_fn.copy_(ours.dynamic_weight[:, : n + 1])
                        ref.dynamic_beta_fn.copy_(ours.dynamic_weight[:, n + 1])
                        ref.dynamic_alpha_scale.fill_(ours.dynamic_scale[0].item())
                        ref.dynamic_beta_scale.fill_(ours.dynamic_scale[1].item())
                    else:  # SHC: the reference's dynamic part switched off
                        ref.dynamic_alpha_fn.zero_()
                        ref.dynamic_beta_fn.zero_()
            row.append(ref)
        out.append(row)
    return out


def model_with_random_connections(name: str, mode: str, n: int) -> acn.StackModel:
    torch.manual_seed(0)
    model = acn.create_model(name, mode, **tiny_overrides(name), hyper_streams=n)
    model = model.double().eval()
    with torch.no_grad():
        for module in model.stack.wiring_modules():
            for p in module.parameters():
                p.add_(0.5 * torch.randn_like(p))  # far from the init: every weight matters
    return model


@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("mode", ["hyper", "hyper-dynamic"])
@pytest.mark.parametrize("name", NAMES)
def test_same_weights_same_output_as_the_reference(name, mode, n):
    model = model_with_random_connections(name, mode, n)
    joins = reference_joins(model, n, copy=True)
    expand, reduce = hc.get_expand_reduce_stream_functions(n)
    x = model.example_input(3, generator=torch.Generator().manual_seed(1)).double()
    with torch.no_grad():
        x0 = model.embed(x)
        streams = expand(x0)
        for row in joins:
            for ref in row:
                streams = ref(streams)
        want = reduce(streams)
        got = model.stack(x0)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    # the streams themselves, not only their sum: ours are [..., n, D], the reference's (b n) ...
    with torch.no_grad():
        state = model.stack.start(x0)
        for _ in range(model.depth):
            state = model.stack.step(state)
        ours = state.h.movedim(-2, 1).reshape(streams.shape)
    torch.testing.assert_close(ours, streams, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", ["hyper", "hyper-dynamic"])
def test_initial_connection_weights_are_the_reference_ones(mode):
    torch.manual_seed(0)
    n = 3
    model = acn.create_model(
        "vit_tiny_cifar", mode, **tiny_overrides("vit_tiny_cifar"), hyper_streams=n
    ).double()
    for block, row in zip(model.stack.blocks, reference_joins(model, n, copy=False)):
        for ours, ref in zip(block.wire.hyper, row):
            torch.testing.assert_close(ours.static_alpha, ref.static_alpha)
            torch.testing.assert_close(ours.static_beta, ref.static_beta)
            if ours.dynamic:
                torch.testing.assert_close(ours.norm_weight - 1, ref.norm.gamma)
                torch.testing.assert_close(ours.dynamic_weight[:, : n + 1], ref.dynamic_alpha_fn)
                torch.testing.assert_close(ours.dynamic_weight[:, n + 1], ref.dynamic_beta_fn)
                assert ours.dynamic_scale.tolist() == [
                    ref.dynamic_alpha_scale.item(),
                    ref.dynamic_beta_scale.item(),
                ]
