"""What a causal (decoder) attention layer needs beyond an encoder's: the causal mask, rotary
positions, and a key/value cache for decoding one token at a time.

:class:`acn.blocks.SelfAttention` built with ``causal=True`` hands its queries, keys and values to
:func:`causal_attention`; nothing else in the blocks knows about decoding. A decoder attaches one
:class:`LayerCache` per attention layer (:func:`attach`) while it generates; each layer then
appends the keys and values of the new positions and attends over every cached one. The cache is
preallocated to the model's context, so a step writes in place (no concatenation) and rolling it
back (self-speculative decoding rejects drafted tokens) only lowers ``length``.

Positions are cache slots: the new tokens of a call sit at slots ``length .. length + t - 1``.
Left-padded batches keep one length for every row; padded keys are masked out, and rotary
positions, being relative, need no per-row shift (learned positions get per-row ids from the
model).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import ConfigError


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE, GPT-NeoX layout: the two halves of a head rotate
    together). No parameters and no state-dict entries; the cos/sin table is built on first use
    on the device and dtype of the queries, so meta-device builds and truncation never see it."""

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ConfigError(f"rotary positions need an even head size, got {head_dim}")
        self.head_dim, self.max_len, self.base = head_dim, max_len, base
        self._table: tuple[Tensor, Tensor] | None = None

    def table(self, like: Tensor) -> tuple[Tensor, Tensor]:
        """(cos, sin), each [max_len, head_dim], in ``like``'s dtype and on its device."""
        cached = self._table
        if cached is None or cached[0].device != like.device or cached[0].dtype != like.dtype:
            # ordinary tensors even when first used under inference_mode: training reuses them
            with torch.inference_mode(False):
                half = torch.arange(0, self.head_dim, 2, dtype=torch.float64, device=like.device)
                inv_freq = self.base ** (-half / self.head_dim)
                pos = torch.arange(self.max_len, dtype=torch.float64, device=like.device)
                angles = torch.outer(pos, inv_freq).repeat(1, 2)
                cached = (angles.cos().to(like.dtype), angles.sin().to(like.dtype))
            # kept only when real: under torch.compile or export the tensors are traced ones
            if type(cached[0]) is Tensor and not torch.compiler.is_compiling():
                self._table = cached
        return cached

    def forward(self, q: Tensor, k: Tensor, offset: int | Tensor = 0) -> tuple[Tensor, Tensor]:
        """Rotate ``q`` and ``k`` ([B, H, T, Dh]) for positions ``offset .. offset + T - 1``
        (``offset`` a 0-d tensor in an exported decoding step, see :class:`PositionCache`)."""
        t = q.shape[-2]
        cos, sin = self.table(q)
        if isinstance(offset, Tensor):
            index = offset + torch.arange(t, device=q.device)
            cos, sin = cos[index], sin[index]
        else:
            if offset + t > self.max_len:
                raise ConfigError(
                    f"position {offset + t - 1} is beyond the context of {self.max_len}"
                )
            cos, sin = cos[offset : offset + t], sin[offset : offset + t]
        return _rotate(q, cos, sin), _rotate(k, cos, sin)


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class LayerCache:
    """Keys and values of one attention layer: [B, H, capacity, Dh] each, allocated at the
    first append (in the shape, dtype and device of the keys it receives)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.k: Tensor | None = None
        self.v: Tensor | None = None
        self.length = 0

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store the new positions' keys and values; return those of every cached position."""
        start, end = self.length, self.length + k.shape[2]
        if end > self.capacity:
            raise ConfigError(f"the key/value cache holds {self.capacity} positions, needs {end}")
        if self.k is None or self.v is None:
            b, h, _, d = k.shape
            self.k = k.new_empty(b, h, self.capacity, d)
            self.v = v.new_empty(b, h, self.capacity, v.shape[-1])
        self.k[:, :, start:end] = k
        self.v[:, :, start:end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]

    def crop(self, length: int) -> None:
        """Forget every position from ``length`` on (rejected draft tokens)."""
        if not 0 <= length <= self.length:
            raise ConfigError(f"cannot crop a cache of {self.length} positions to {length}")
        self.length = length


class PositionCache:
    """A fixed-size cache [B, H, S, Dh] whose new keys and values go to the slots from
    ``position`` (a 0-d int64 tensor) on, written out of place: the state of an exported
    decoding step is its inputs and outputs only (:mod:`acn.export.kv_step`). The caller gives
    the attention mask (keys after the written ones hold stale values)."""

    def __init__(self, k: Tensor, v: Tensor, position: Tensor) -> None:
        self.k, self.v, self.length = k, v, position

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        index = self.length + torch.arange(k.shape[2], device=k.device)
        self.k = self.k.index_copy(2, index, k)
        self.v = self.v.index_copy(2, index, v)
        return self.k, self.v


def causal_mask(t: int, s: int, device: torch.device | str | None = None) -> Tensor:
    """Bool [t, s] (True = attend): query i, the i-th of the last t of s positions, sees keys
    ``0 .. s - t + i``."""
    q = torch.arange(s - t, s, device=device).unsqueeze(1)
    return torch.arange(s, device=device).unsqueeze(0) <= q


def padded_causal_mask(key_valid: Tensor, t: int) -> Tensor:
    """Bool [B, 1, t, s] for left-padded rows: causal, padded keys hidden. ``key_valid`` [B, s]
    says which of the s positions hold a real token. A padded query still sees itself, so that
    no row of the mask is empty (an empty row gives NaN, and NaN values leak through the zero
    weights of later layers)."""
    s = key_valid.shape[1]
    mask = causal_mask(t, s, key_valid.device) & key_valid[:, None, None, :].bool()
    self_pos = torch.arange(s - t, s, device=key_valid.device)
    mask[:, :, torch.arange(t, device=key_valid.device), self_pos] = True
    return mask


def causal_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    attn_mask: Tensor | None,
    cache: LayerCache | PositionCache | None,
    rotary: RotaryEmbedding | None,
    dropout_p: float = 0.0,
) -> Tensor:
    """Causal SDPA of the new positions ([B, H, t, Dh] each): rotary positions from the cache
    length, the cache extended, and the causal mask made explicit only when the new positions
    follow cached ones (SDPA's ``is_causal`` aligns queries with the first keys, not the last).
    ``attn_mask``, when given, is the whole mask (:func:`padded_causal_mask`)."""
    past = 0 if cache is None else cache.length
    if rotary is not None:
        q, k = rotary(q, k, past)
    if cache is not None:
        k, v = cache.append(k, v)
    t, s = q.shape[2], k.shape[2]
    if attn_mask is None and t > 1 and s > t:
        attn_mask = causal_mask(t, s, q.device)
    is_causal = attn_mask is None and t > 1
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal
    )


def causal_layers(module: nn.Module) -> list[nn.Module]:
    """The causal attention layers inside ``module`` (a block), in order."""
    return [m for m in module.modules() if getattr(m, "causal", False) and hasattr(m, "kv")]


@contextmanager
def attach(
    layers: Sequence[nn.Module], caches: Sequence[LayerCache | PositionCache | None]
) -> Iterator[None]:
    """Give each causal attention layer its cache for the duration of the block (None: none)."""
    if len(layers) != len(caches):
        raise ConfigError(f"{len(layers)} attention layers but {len(caches)} caches")
    for layer, cache in zip(layers, caches):
        layer.kv = cache
    try:
        yield
    finally:
        for layer in layers:
            layer.kv = None
