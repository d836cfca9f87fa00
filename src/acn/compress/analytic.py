"""Closed-form FLOPs of the library's block families: the cross-check for the counted numbers.

Same conventions as :mod:`acn.compress.flops`: FLOPs = 2 x MACs of the matrix products only (a
Linear ``a -> b`` on ``t`` tokens is ``2*t*a*b``; bias adds, norms, activations, softmax and
embedding lookups are zero). Each function returns FLOPs for ONE sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..models import BertModel, GPTModel, MixerModel, MLPModel, StackModel, ViTModel


def linear(tokens: int, fan_in: int, fan_out: int) -> int:
    return 2 * tokens * fan_in * fan_out


def mlp_block(dim: int, hidden: int) -> int:
    """Pre-LN MLP block on one vector: fc1 + fc2."""
    return linear(1, dim, hidden) + linear(1, hidden, dim)


def mixer_block(tokens: int, dim: int, token_hidden: int, channel_hidden: int, tail: bool) -> int:
    """Mixer layer: token MLP (T -> S -> T per channel), channel MLP, and the paper's tail Linear."""
    token_mix = linear(dim, tokens, token_hidden) + linear(dim, token_hidden, tokens)
    channel_mix = linear(tokens, dim, channel_hidden) + linear(tokens, channel_hidden, dim)
    return token_mix + channel_mix + (linear(tokens, dim, dim) if tail else 0)


def attention_matmuls(tokens: int, dim: int) -> int:
    """QK^T and AV over all heads: 2 x (T x T x D) multiply-adds."""
    return 2 * 2 * tokens * tokens * dim


def transformer_block(tokens: int, dim: int, mlp_hidden: int, with_attention: bool = True) -> int:
    """Transformer layer (pre- or post-LN: the norms cost nothing): qkv, proj, MLP, attention."""
    linears = (
        linear(tokens, dim, 3 * dim)
        + linear(tokens, dim, dim)
        + linear(tokens, dim, mlp_hidden)
        + linear(tokens, mlp_hidden, dim)
    )
    return linears + (attention_matmuls(tokens, dim) if with_attention else 0)


def densenet_projection(index: int, tokens: int, dim: int) -> int:
    """DenseNet-wiring input of block ``index`` (0-based): concat(x_0..x_index) @ W^T."""
    return linear(tokens, (index + 1) * dim, dim)


def join_flops(mode: str, tokens: int, dim: int, streams: int, rank: int) -> int:
    """The matrix products of one sub-layer's join (acn.wiring) on ``tokens`` positions.

    hyper: the width connection [A_m | A_r]^T H, a (1+n) x n by n x D product per position;
    hyper-dynamic adds the dynamic weights RMSNorm(H) W, n x D by D x (n+2). laurel-lr: V then U,
    D -> r -> D. The other joins (add, replace, hacn's gate, LAuReL-RW's scalars) are elementwise.
    """
    n = streams
    if mode == "hyper":
        return 2 * tokens * (1 + n) * n * dim
    if mode == "hyper-dynamic":
        return 2 * tokens * (1 + n) * n * dim + 2 * tokens * n * dim * (n + 2)
    if mode == "laurel-lr":
        return linear(tokens, dim, rank) + linear(tokens, rank, dim)
    return 0


@dataclass
class AnalyticFlops:
    """Per-sample FLOPs of each stage, as :class:`acn.compress.flops.DepthFlops` splits them."""

    embed: int
    blocks: list[int]
    head: int

    @property
    def total(self) -> int:
        return self.embed + sum(self.blocks) + self.head


def _patches(c) -> tuple[int, int]:
    """(number of patches, flattened patch size) of an image family config."""
    return (c.image_size // c.patch_size) ** 2, c.in_chans * c.patch_size**2


def _streams(c) -> int:
    """Parallel streams a block's per-position layers run on (the paper Mixer's tail)."""
    return c.hyper_streams if c.connectivity in ("hyper", "hyper-dynamic") else 1


def _mlp(c, with_attention: bool) -> tuple[int, int, int, int]:
    return (
        1,
        linear(1, c.in_features, c.dim),
        mlp_block(c.dim, c.hidden),
        linear(1, c.dim, c.num_classes),
    )


def _mixer(c, with_attention: bool) -> tuple[int, int, int, int]:
    n, patch = _patches(c)
    tokens = n + (c.pool == "cls")
    block = mixer_block(tokens, c.dim, c.token_hidden, c.channel_hidden, c.tail)
    # with hyper-connections the tail LN(ReLU(Linear(h) + x)) runs on every stream
    block += (_streams(c) - 1) * (linear(tokens, c.dim, c.dim) if c.tail else 0)
    return tokens, linear(n, patch, c.dim), block, linear(1, c.dim, c.num_classes)


def _vit(c, with_attention: bool) -> tuple[int, int, int, int]:
    n, patch = _patches(c)
    tokens = n + 1
    block = transformer_block(tokens, c.dim, int(c.dim * c.mlp_ratio), with_attention)
    return tokens, linear(n, patch, c.dim), block, linear(1, c.dim, c.num_classes)


def _bert(c, with_attention: bool) -> tuple[int, int, int, int]:
    tokens = c.max_len  # example_input is a full-length sequence without padding
    block = transformer_block(tokens, c.dim, c.mlp_hidden, with_attention)
    if c.head == "mlm":
        head = linear(tokens, c.dim, c.dim) + linear(tokens, c.dim, c.vocab_size)
    else:
        head = linear(1, c.dim, c.dim) + linear(1, c.dim, c.num_classes)
    return tokens, 0, block, head


def _gpt(c, with_attention: bool) -> tuple[int, int, int, int]:
    tokens = c.max_len  # example_input is a full context; causal attention is counted in full
    block = transformer_block(tokens, c.dim, int(c.dim * c.mlp_ratio), with_attention)
    return tokens, 0, block, linear(tokens, c.dim, c.vocab_size)


# (tokens, embed, one block, head) per sample, by model class; a subclass uses its base's formula
FORMULAS: dict[type[StackModel], Callable[[Any, bool], tuple[int, int, int, int]]] = {
    MLPModel: _mlp,
    MixerModel: _mixer,
    ViTModel: _vit,
    BertModel: _bert,
    GPTModel: _gpt,
}
# sub-layers of one block, each with its own join
SUBLAYERS: dict[type[StackModel], int] = {
    MLPModel: 1,
    MixerModel: 2,
    ViTModel: 2,
    BertModel: 2,
    GPTModel: 2,
}


def analytic_flops(model: StackModel, with_attention: bool = True) -> AnalyticFlops:
    """Per-sample FLOPs of ``model`` on its example input, from its config alone."""
    c = model.config
    formula = next((FORMULAS[k] for k in type(model).__mro__ if k in FORMULAS), None)
    if formula is None:
        raise ConfigError(f"no analytic FLOPs formula for {type(model).__name__} models")
    tokens, embed, block, head = formula(c, with_attention)
    dense = c.connectivity == "densenet"
    sublayers = next(SUBLAYERS[k] for k in type(model).__mro__ if k in SUBLAYERS)
    joins = sublayers * join_flops(c.connectivity, tokens, c.dim, c.hyper_streams, c.laurel_rank)
    blocks = [
        block + joins + (densenet_projection(i, tokens, c.dim) if dense else 0)
        for i in range(c.depth)
    ]
    return AnalyticFlops(embed, blocks, head)
