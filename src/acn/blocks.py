"""The layer functions f_i of every model family.

Each block is a chain of sub-layers with their norms, and takes one constructor-level wiring
choice, a :class:`~acn.wiring.Wiring`: how each sub-layer's output joins the stream it read (add:
the residual twin; replace: the AC / feed-forward twin; gated, LAuReL or hyper-connection joins
for the other modes) and what the block reports to the stack. The older ``residual=True/False``
flag still works and means the add / replace wiring. Nothing else about connectivity lives here;
the joins are :mod:`acn.wiring`, the wiring between blocks is :mod:`acn.connectivity`. The add and
replace wirings have exactly the same parameters, so a residual model and its ACN twin have equal
parameter counts.

For the direct-gradient share (:mod:`acn.train.gradient_share`) every block has
``direct_forward``: the same value, with the gradient reaching ``x`` only through its skip terms,
never through a learned sub-layer, and its own parameters getting their full gradient.
``adds_input`` says whether the block is of the form ``x + g(x)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .causal import LayerCache, RotaryEmbedding, causal_attention
from .errors import ConfigError
from .wiring import Wiring, as_wiring


class Mlp(nn.Module):
    """Linear -> GELU -> Linear (dropout after each when > 0)."""

    def __init__(self, dim: int, hidden: int, out: int | None = None, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, out or dim)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class MLPBlock(nn.Module):
    """Pre-LN MLP block for vector inputs: one sub-layer MLP(LN(h)), joined to its input h
    (residual: x + MLP(LN x); ACN: MLP(LN x))."""

    def __init__(
        self,
        dim: int,
        hidden: int,
        *,
        residual: bool | Wiring | None = None,
        wiring: Wiring | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        wiring = as_wiring(residual, wiring)
        self.residual = wiring.residual
        self.norm = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, hidden, dropout=dropout)
        self.wire = wiring.build(dim, sublayers=1)

    @property
    def adds_input(self) -> bool:
        return self.residual

    def _mlp(self, h: Tensor) -> Tensor:
        return self.mlp(self.norm(h))

    def forward(self, x: Tensor) -> Tensor:
        return self.wire.run(x, (self._mlp,))

    def direct_forward(self, x: Tensor) -> Tensor:
        return self.wire.run(x, (self._mlp,), direct=True)


class TokenMixer(nn.Module):
    """Token-mixing MLP across the token axis of [B, T, D].

    The authors' Mixer uses Conv1d(T, S, k=1) for this. The same function is computed here as a
    batched matmul ``W @ x`` on the [B, T, D] tensor itself: no transposes, so no copies, and one
    GEMM per sample instead of a convolution. The weights live in ordinary ``nn.Linear`` modules so
    that pruning, weight decay and FLOP counting treat them like every other linear layer.
    """

    def __init__(self, num_tokens: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(num_tokens, hidden)
        self.fc2 = nn.Linear(hidden, num_tokens)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    @staticmethod
    def _mix(fc: nn.Linear, x: Tensor) -> Tensor:
        b = x.shape[0]
        return torch.baddbmm(fc.bias.unsqueeze(-1), fc.weight.expand(b, -1, -1), x)

    def forward(self, x: Tensor) -> Tensor:
        h = self.drop(F.gelu(self._mix(self.fc1, x)))
        return self.drop(self._mix(self.fc2, h))


class MixerBlock(nn.Module):
    """MLP-Mixer layer on [B, T, D] tokens: sub-layers token mixing tok(LN h) and channel mixing
    chan(LN h), each joined to the stream.

    Standard (``tail=False``): ``h = x + tok(LN x); out = h + chan(LN h)``; the AC twin drops both
    adds: ``out = chan(LN tok(LN x))``.

    Paper (``tail=True``, the authors' CIFAR-10 Mixer): the sub-layers are as above and every layer
    ends in ``LN(ReLU(Linear(h) + x))`` - a skip *inside* the nonlinearity that every wiring keeps
    (the paper's section 2.3).
    """

    def __init__(
        self,
        num_tokens: int,
        dim: int,
        token_hidden: int,
        channel_hidden: int,
        *,
        residual: bool | Wiring | None = None,
        wiring: Wiring | None = None,
        tail: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        wiring = as_wiring(residual, wiring)
        self.residual = wiring.residual
        self.norm1 = nn.LayerNorm(dim)
        self.token_mlp = TokenMixer(num_tokens, token_hidden, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.channel_mlp = Mlp(dim, channel_hidden, dropout=dropout)
        if tail:
            self.tail_fc = nn.Linear(dim, dim)
            self.tail_norm = nn.LayerNorm(dim)
        else:
            self.tail_fc = None
            self.tail_norm = None
        self.wire = wiring.build(dim, sublayers=2)

    @property
    def adds_input(self) -> bool:
        return self.residual and self.tail_fc is None

    def _tokens(self, h: Tensor) -> Tensor:
        return self.token_mlp(self.norm1(h))

    def _channels(self, h: Tensor) -> Tensor:
        return self.channel_mlp(self.norm2(h))

    def _tail(self, h: Tensor, x: Tensor) -> Tensor:
        return self.tail_norm(F.relu(self.tail_fc(h) + x))

    def _run(self, x: Tensor, direct: bool) -> Tensor:
        tail = None if self.tail_fc is None else self._tail
        return self.wire.run(x, (self._tokens, self._channels), tail=tail, direct=direct)

    def forward(self, x: Tensor) -> Tensor:
        return self._run(x, False)

    def direct_forward(self, x: Tensor) -> Tensor:
        """``forward``'s value; the gradient reaches ``x`` only through the skip terms.

        With the tail the only skip to the output is its ``+ x``: the sub-layers (and their joins,
        which reach the output only through ``tail_fc``) read ``x.detach()``. Without it the
        joins' skip terms are the skip.
        """
        return self._run(x, True)


class SelfAttention(nn.Module):
    """Multi-head self-attention with ``F.scaled_dot_product_attention`` (fused on every device).

    ``value_residual`` (ResFormer): values [B, heads, T, D/heads] of the stack's first attention
    layer; this layer then attends over (v + value_residual) / 2. ``return_values`` also returns
    this layer's own values (the first layer hands them on).

    ``causal=True`` makes it a decoder's attention (:mod:`acn.causal`): a causal mask, optional
    ``rotary`` positions, and ``kv``, the layer's key/value cache while a decoder generates.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        dropout: float = 0.0,
        *,
        causal: bool = False,
        rotary: RotaryEmbedding | None = None,
    ):
        super().__init__()
        if dim % num_heads:
            raise ConfigError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout
        self.causal = causal
        self.rotary = rotary
        self.kv: LayerCache | None = None  # set by acn.causal.attach while decoding

    def forward(
        self,
        x: Tensor,
        attn_mask: Tensor | None = None,
        value_residual: Tensor | None = None,
        return_values: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.num_heads, d // self.num_heads).unbind(2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        values = v
        if value_residual is not None:  # mixed before caching: the cache holds what is attended
            v = 0.5 * (v + value_residual)
        dropout_p = self.dropout if self.training else 0.0
        if self.causal:
            y = causal_attention(
                q, k, v, attn_mask=attn_mask, cache=self.kv, rotary=self.rotary, dropout_p=dropout_p
            )
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
        out = self.proj(y.transpose(1, 2).reshape(b, t, d))
        return (out, values) if return_values else out


class TransformerBlock(nn.Module):
    """Transformer layer, pre-LN (ViT, GPT with ``causal=True``) or post-LN (original BERT).

    Pre-LN:  ``h = x + attn(LN x); out = h + mlp(LN h)``; AC twin: ``out = mlp(LN attn(LN x))``.
    Post-LN: ``h = LN(x + attn(x)); out = LN(h + mlp(h))``; AC twin (AC-BERT) removes both adds and
    keeps both LayerNorms: ``h = LN(attn(x)); out = LN(mlp(h))``. The joins are the wiring's.

    With the wiring's ``value_residual`` (ResFormer), ``forward(x, ..., values=V1)`` returns
    ``(out, V1)``: the first block (``values=None``) hands on its own attention values, every
    later block attends with the first block's.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_hidden: int,
        *,
        residual: bool | Wiring | None = None,
        wiring: Wiring | None = None,
        norm_first: bool = True,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        causal: bool = False,
        rotary: RotaryEmbedding | None = None,
    ):
        super().__init__()
        wiring = as_wiring(residual, wiring)
        self.residual = wiring.residual
        self.value_residual = wiring.value_residual
        self.norm_first = norm_first
        self.norm1 = nn.LayerNorm(dim, eps=1e-6 if norm_first else 1e-12)
        self.attn = SelfAttention(dim, num_heads, attn_dropout, causal=causal, rotary=rotary)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6 if norm_first else 1e-12)
        self.mlp = Mlp(dim, mlp_hidden)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.wire = wiring.build(dim, sublayers=2)

    @property
    def adds_input(self) -> bool:
        return self.residual and self.norm_first

    def _mlp(self, h: Tensor) -> Tensor:
        return self.drop(self.mlp(self.norm2(h) if self.norm_first else h))

    def _run(self, x: Tensor, attn_mask: Tensor | None, values: Tensor | None, direct: bool):
        first: list[Tensor] = []

        def attend(h: Tensor) -> Tensor:
            h = self.norm1(h) if self.norm_first else h
            if not self.value_residual:
                return self.drop(self.attn(h, attn_mask))
            if values is not None:
                return self.drop(self.attn(h, attn_mask, values.detach() if direct else values))
            y, own = self.attn(h, attn_mask, return_values=True)
            first.append(own)
            return self.drop(y)

        post = None if self.norm_first else (self.norm1, self.norm2)
        out = self.wire.run(x, (attend, self._mlp), post=post, direct=direct)
        if not self.value_residual:
            return out
        return out, (values if values is not None else first[0])

    def forward(self, x: Tensor, attn_mask: Tensor | None = None, values: Tensor | None = None):
        return self._run(x, attn_mask, values, False)

    def direct_forward(
        self, x: Tensor, attn_mask: Tensor | None = None, values: Tensor | None = None
    ):
        """``forward``'s value; the gradient reaches ``x`` only through the joins' skip terms
        (and, post-LN, the LayerNorms after them), never through attention or the MLP; the first
        block's values reach a later block's attention detached."""
        return self._run(x, attn_mask, values, True)
