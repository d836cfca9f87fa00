"""The layer functions f_i of every model family.

Each block takes one flag, ``residual``: whether its sub-layers add their input (the residual
twin) or not (the AC / feed-forward twin). Nothing else about connectivity lives here; the wiring
between blocks is :mod:`acn.connectivity`. Both settings have exactly the same parameters, so a
residual model and its ACN twin have equal parameter counts.

For the direct-gradient share (:mod:`acn.train.gradient_share`) every residual block says whether
its output is ``x + g(x)`` (``adds_input``); a block that is not of that form (the paper Mixer's
tail, post-LN BERT) provides ``direct_forward``: the same value, with the gradient reaching ``x``
only through its skip terms, never through a learned sub-layer, and its own parameters getting
their full gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .causal import LayerCache, RotaryEmbedding, causal_attention
from .errors import ConfigError


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
    """Pre-LN MLP block for vector inputs: f(x) = MLP(LN(x)), plus x when residual."""

    def __init__(self, dim: int, hidden: int, *, residual: bool, dropout: float = 0.0):
        super().__init__()
        self.residual = residual
        self.norm = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, hidden, dropout=dropout)

    @property
    def adds_input(self) -> bool:
        return self.residual

    def forward(self, x: Tensor) -> Tensor:
        y = self.mlp(self.norm(x))
        return x + y if self.residual else y


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
    """MLP-Mixer layer on [B, T, D] tokens.

    Standard (``tail=False``): ``h = x + tok(LN x); out = h + chan(LN h)``; the AC twin drops both
    adds: ``out = chan(LN tok(LN x))``.

    Paper (``tail=True``, the authors' CIFAR-10 Mixer): the sub-layers are as above and every layer
    ends in ``LN(ReLU(Linear(h) + x))`` - a skip *inside* the nonlinearity that both the residual
    and the AC layer keep (paper.md section 2.3).
    """

    def __init__(
        self,
        num_tokens: int,
        dim: int,
        token_hidden: int,
        channel_hidden: int,
        *,
        residual: bool,
        tail: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.residual = residual
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

    @property
    def adds_input(self) -> bool:
        return self.residual and self.tail_fc is None

    def _sublayers(self, x: Tensor) -> Tensor:
        h = self.token_mlp(self.norm1(x))
        if self.residual:
            h = h + x
        c = self.channel_mlp(self.norm2(h))
        return h + c if self.residual else c

    def forward(self, x: Tensor) -> Tensor:
        h = self._sublayers(x)
        if self.tail_fc is not None:
            h = self.tail_norm(F.relu(self.tail_fc(h) + x))
        return h

    def direct_forward(self, x: Tensor) -> Tensor:
        """``forward``'s value; the gradient reaches ``x`` only through the skip terms.

        With the tail the only skip to the output is its ``+ x``: the sub-layers (and their inner
        residual adds, which reach the output only through ``tail_fc``) read ``x.detach()``.
        Without it the block is ``x + g(x)`` and the identity is the skip.
        """
        inner = self._sublayers(x.detach())
        if self.tail_fc is None:
            return inner + (x - x.detach()) if self.residual else inner
        return self.tail_norm(F.relu(self.tail_fc(inner) + x))


class SelfAttention(nn.Module):
    """Multi-head self-attention with ``F.scaled_dot_product_attention`` (fused on every device).

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

    def forward(self, x: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.num_heads, d // self.num_heads).unbind(2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        dropout_p = self.dropout if self.training else 0.0
        if self.causal:
            y = causal_attention(
                q, k, v, attn_mask=attn_mask, cache=self.kv, rotary=self.rotary, dropout_p=dropout_p
            )
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class TransformerBlock(nn.Module):
    """Transformer layer, pre-LN (ViT, GPT with ``causal=True``) or post-LN (original BERT).

    Pre-LN:  ``h = x + attn(LN x); out = h + mlp(LN h)``; AC twin: ``out = mlp(LN attn(LN x))``.
    Post-LN: ``h = LN(x + attn(x)); out = LN(h + mlp(h))``; AC twin (AC-BERT) removes both adds and
    keeps both LayerNorms: ``h = LN(attn(x)); out = LN(mlp(h))``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_hidden: int,
        *,
        residual: bool,
        norm_first: bool = True,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        causal: bool = False,
        rotary: RotaryEmbedding | None = None,
    ):
        super().__init__()
        self.residual = residual
        self.norm_first = norm_first
        self.norm1 = nn.LayerNorm(dim, eps=1e-6 if norm_first else 1e-12)
        self.attn = SelfAttention(dim, num_heads, attn_dropout, causal=causal, rotary=rotary)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6 if norm_first else 1e-12)
        self.mlp = Mlp(dim, mlp_hidden)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def _add(self, x: Tensor, y: Tensor) -> Tensor:
        return x + y if self.residual else y

    @property
    def adds_input(self) -> bool:
        return self.residual and self.norm_first

    def forward(self, x: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        if self.norm_first:
            h = self._add(x, self.drop(self.attn(self.norm1(x), attn_mask)))
            return self._add(h, self.drop(self.mlp(self.norm2(h))))
        h = self.norm1(self._add(x, self.drop(self.attn(x, attn_mask))))
        return self.norm2(self._add(h, self.drop(self.mlp(h))))

    def direct_forward(self, x: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        """``forward``'s value; the gradient reaches ``x`` only through the residual adds (and,
        post-LN, the LayerNorms after them), never through attention or the MLP."""
        if self.norm_first:  # x + g(x): the identity is the skip
            y = self.forward(x.detach(), attn_mask)
            return y + (x - x.detach()) if self.residual else y
        xd = x.detach()
        a = self.drop(self.attn(xd, attn_mask))
        h_sub = self.norm1(self._add(xd, a))  # what the MLP reads: no path back to x
        h = self.norm1(self._add(x, a))  # the same value, through the skip
        return self.norm2(self._add(h, self.drop(self.mlp(h_sub))))
