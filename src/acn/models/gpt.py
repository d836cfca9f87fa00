"""GPT: a decoder-only causal transformer language model in any connectivity.

Token (+ learned position) embeddings -> L pre-LN causal blocks (:class:`acn.blocks.TransformerBlock`
with ``causal=True``) -> final LayerNorm -> LM head, optionally tied to the token embeddings. The
final norm and the LM head are the shared head: ``logits_per_depth`` reads every depth through
them from one pass, so depth k's next-token prediction is the model cut after k blocks. The
wiring between blocks is :mod:`acn.connectivity`'s, exactly as for every other family.

Decoding (a key/value cache, ``generate``, self-speculative decoding) lives in
:mod:`acn.generation`; this module only says how a step starts: :meth:`GPTModel.start` embeds the
new tokens at their positions and builds the attention mask for left-padded batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import TransformerBlock
from ..causal import RotaryEmbedding, padded_causal_mask
from ..errors import ConfigError, DataError
from .base import ModelConfig, StackModel
from .init import init_transformer_weights

POSITIONS = ("learned", "rotary")


@dataclass
class GPTConfig(ModelConfig):
    vocab_size: int = 50257
    max_len: int = 1024  # the context: positions 0 .. max_len - 1
    dim: int = 768
    num_heads: int = 12
    mlp_ratio: float = 4.0
    positions: str = "learned"  # or "rotary"
    tie_embeddings: bool = True  # the LM head's weight is the token embedding table
    dropout: float = 0.0
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        # the head predicts the next token: its classes are the vocabulary
        self.num_classes = self.vocab_size


class GPTEmbed(nn.Module):
    """Token embeddings plus learned position embeddings (``positions="learned"``); rotary
    positions are applied inside attention instead, by the ``rotary`` module kept here."""

    def __init__(self, c: GPTConfig) -> None:
        super().__init__()
        if c.positions not in POSITIONS:
            raise ConfigError(f"unknown positions {c.positions!r}; choose one of {POSITIONS}")
        self.tok = nn.Embedding(c.vocab_size, c.dim)
        self.pos = nn.Embedding(c.max_len, c.dim) if c.positions == "learned" else None
        head_dim = c.dim // c.num_heads
        self.rotary = (
            RotaryEmbedding(head_dim, c.max_len, c.rope_base) if c.positions == "rotary" else None
        )
        self.drop = nn.Dropout(c.dropout) if c.dropout > 0 else nn.Identity()

    def forward(self, ids: Tensor, positions: Tensor | None = None) -> Tensor:
        x = self.tok(ids)
        if self.pos is not None:
            if positions is None:
                positions = torch.arange(ids.shape[1], device=ids.device)
            x = x + self.pos(positions)
        return self.drop(x)


class TiedHead(nn.Module):
    """The LM head whose weight is the token embedding table (held by reference, so the state
    dict has it once, under the embedding)."""

    def __init__(self, tok: nn.Embedding) -> None:
        super().__init__()
        self.tok = [tok]  # a list: not registered as a submodule

    @property
    def weight(self) -> Tensor:
        return self.tok[0].weight

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.tok[0].weight)


class GPTModel(StackModel):
    """Token ids [B, T] -> next-token logits [B, T, vocab_size]; see the module docstring."""

    family = "gpt"
    config_class = GPTConfig
    config: GPTConfig
    # acn.generation binds the decoding loop here when imported (``import acn`` imports it), as
    # Hugging Face models get ``generate`` from their generation mixin; decoding needs no more
    # of the model than this module offers, but sits above the models on the package ladder.
    generate_fn: ClassVar[Callable[..., Any] | None] = None

    def __init__(self, config: GPTConfig) -> None:
        if config.exit_branches:
            raise ConfigError(
                "gpt models exit through their shared head; exit_branches is for classifiers"
            )
        if config.dim % config.num_heads:
            raise ConfigError(f"dim {config.dim} is not divisible by num_heads {config.num_heads}")
        super().__init__(config)

    def build_embed(self) -> nn.Module:
        return GPTEmbed(self.config)

    def build_block(self, index: int, residual: bool) -> nn.Module:
        c = self.config
        return TransformerBlock(
            c.dim,
            c.num_heads,
            int(c.dim * c.mlp_ratio),
            residual=residual,
            norm_first=True,
            dropout=c.dropout,
            causal=True,
            rotary=self.embed.rotary,
        )

    def build_norm(self) -> nn.Module:
        return nn.LayerNorm(self.width, eps=1e-6)  # as the blocks' norms

    def build_head(self) -> nn.Module:
        c = self.config
        if c.tie_embeddings:
            return TiedHead(self.embed.tok)
        return nn.Linear(c.dim, c.vocab_size, bias=False)

    def init_weights(self) -> None:
        """GPT-2's: N(0, 0.02) weights, zero biases, and the projections that write into the
        stream (attention out, MLP out) scaled by 1/sqrt(2L). The same in every wiring, so a
        residual model and its ACN twin start from the same distribution."""
        init_transformer_weights(self)
        std = 0.02 / math.sqrt(2 * max(self.config.depth, 1))
        for block in self.stack.blocks:
            for name, p in block.named_parameters():
                if name.endswith(("attn.proj.weight", "mlp.fc2.weight")):
                    nn.init.trunc_normal_(p, std=std)
        if isinstance(self.head, nn.Linear):
            nn.init.normal_(self.head.weight, std=0.02)

    def start(
        self,
        x: Tensor,
        attention_mask: Tensor | None = None,
        past_length: int = 0,
    ) -> tuple[Tensor, dict[str, Any]]:
        """Embed new tokens ``x`` [B, t] that follow ``past_length`` cached positions.

        ``attention_mask`` (Hugging Face's: [B, past_length + t], 1 = token, 0 = left padding)
        gives learned positions that count only real tokens and the attention mask that hides
        the padding; without it every position holds a token."""
        if x.ndim != 2 or x.dtype not in (torch.int64, torch.int32):
            raise DataError(
                f"expected integer token ids of shape [B, T], got {x.dtype} {list(x.shape)}"
            )
        t, c = x.shape[1], self.config
        if past_length + t > c.max_len:
            raise DataError(
                f"{past_length + t} positions exceed the model's context of {c.max_len} tokens"
            )
        if attention_mask is None:
            positions = torch.arange(past_length, past_length + t, device=x.device)
            return self.embed(x, positions), {}
        if attention_mask.shape != (x.shape[0], past_length + t):
            raise DataError(
                f"attention_mask must be [B, {past_length + t}], got {list(attention_mask.shape)}"
            )
        positions = (attention_mask.long().cumsum(1) - 1).clamp_min(0)[:, past_length:]
        return self.embed(x, positions), {"attn_mask": padded_causal_mask(attention_mask, t)}

    def generate(self, input_ids: Tensor, **kwargs: Any) -> Tensor:
        """Continue ``input_ids`` [B, T]: see :func:`acn.generation.generate` for the options
        (Hugging Face's names: max_new_tokens, do_sample, temperature, top_k, top_p,
        eos_token_id, attention_mask; and depth, assistant_early_exit, seed)."""
        if GPTModel.generate_fn is None:
            raise ConfigError("decoding needs acn.generation: import acn first")
        return GPTModel.generate_fn(self, input_ids, **kwargs)

    def example_input(
        self, batch_size: int = 2, generator: torch.Generator | None = None
    ) -> Tensor:
        c = self.config
        return torch.randint(0, c.vocab_size, (batch_size, c.max_len), generator=generator)
