"""BERT-style encoder: post-LN blocks as in original BERT (or pre-LN, ``norm_first``), with an MLM
or a classification head.

AC-BERT (the paper's section 2.3) removes both residual adds of every layer and keeps both
LayerNorms; its head reads x_0 + sum_i x_i, where x_0 is the embedding output (after BERT's
embedding LayerNorm). With ``norm_first`` the blocks are pre-LN (as the ViT's) and a final
LayerNorm sits before the head, as in pre-LN transformers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import TransformerBlock
from ..connectivity import check_depth
from ..errors import ConfigError, DataError
from ..wiring import Wiring
from .base import ModelConfig, StackModel
from .init import init_transformer_weights


@dataclass
class BertConfig(ModelConfig):
    vocab_size: int = 32768
    max_len: int = 128
    dim: int = 768
    num_heads: int = 12
    mlp_hidden: int = 3072
    pad_id: int = 0
    head: str = "cls"  # "cls": pooler + classifier; "mlm": masked-LM head tied to the embeddings
    # The authors' BERT recipe uses dropout 0 (the paper's section 5.5).
    dropout: float = 0.0
    num_classes: int = 2
    # pre-LN blocks and a final LayerNorm (default: post-LN, as the original BERT and AC-BERT)
    norm_first: bool = False


class BertEmbed(nn.Module):
    """Word + position + token-type embeddings, LayerNorm, dropout.

    Inputs are single segments, so the token-type table has one row (BERT's segment A); a second
    row would be a parameter nothing reads.
    """

    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(c.vocab_size, c.dim, padding_idx=c.pad_id)
        self.position = nn.Embedding(c.max_len, c.dim)
        self.token_type = nn.Embedding(1, c.dim)
        self.norm = nn.LayerNorm(c.dim, eps=1e-12)
        self.drop = nn.Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.vocab_size, self.max_len = c.vocab_size, c.max_len

    def forward(self, ids: Tensor) -> Tensor:
        if ids.ndim != 2 or ids.dtype not in (torch.int64, torch.int32):
            raise DataError(
                f"expected integer token ids of shape [B, T], got {ids.dtype} {list(ids.shape)}"
            )
        t = ids.shape[1]
        if t > self.max_len:
            raise DataError(f"sequence length {t} exceeds the model's max_len {self.max_len}")
        pos = torch.arange(t, device=ids.device)
        x = self.word(ids) + self.position(pos) + self.token_type.weight[0]
        return self.drop(self.norm(x))


class Pooler(nn.Module):
    """BERT's pooler (dense + tanh on [CLS]) followed by the classifier."""

    def __init__(self, dim: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.drop(torch.tanh(self.dense(x))))


class MLMHead(nn.Module):
    """Dense -> GELU -> LayerNorm -> decoder whose weight is tied to the word embeddings."""

    def __init__(self, dim: int, word: nn.Embedding) -> None:
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        self.word = [word]  # a list, so the tied weight is registered once (in the embedding)
        self.bias = nn.Parameter(torch.zeros(word.num_embeddings))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(self.norm(F.gelu(self.dense(x))), self.word[0].weight, self.bias)


@dataclass
class BertOutput:
    """``model(ids, return_dict=True)``: as Hugging Face's output, by attribute or by key.

    ``hidden_states`` (with ``output_hidden_states=True``) holds depth+1 tensors [B, T, D]: the
    embedding output and then what the head reads after each layer (for an ACN, the partial sums
    x_0 + ... + x_k)."""

    logits: Tensor
    hidden_states: tuple[Tensor, ...] | None = None

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


class BertModel(StackModel):
    """Token ids -> embeddings -> L post-LN encoder layers -> MLM or pooler/classifier head."""

    family = "bert"
    config_class = BertConfig
    # Post-LN normalises the stream after every add, so the sum of the sub-layer outputs that
    # hacn's head reads is not the stream even at alpha = 0 (hacn would not contain the residual
    # net), and hyper-connections mix streams around pre-norm sub-layers only.
    undefined_modes = {
        "hacn": "post-LN layers normalise the stream after every add, so at alpha = 0 the head's "
        "x_0 + sum(a_i + m_i) would not be the residual stream (use a pre-LN family)",
        "hyper": "hyper-connections are defined around pre-norm sub-layers; BERT is post-LN",
        "hyper-dynamic": "hyper-connections are defined around pre-norm sub-layers; BERT is post-LN",
    }
    config: BertConfig

    def __init__(self, config: BertConfig) -> None:
        if config.head not in ("cls", "mlm"):
            raise ConfigError(f"unknown BERT head {config.head!r}; choose 'cls' or 'mlm'")
        super().__init__(config)

    @property
    def pool_mode(self) -> str:
        return "cls" if self.config.head == "cls" else "none"

    def build_embed(self) -> nn.Module:
        return BertEmbed(self.config)

    def build_block(self, index: int, wiring: Wiring) -> nn.Module:
        c = self.config
        return TransformerBlock(
            c.dim,
            c.num_heads,
            c.mlp_hidden,
            wiring=wiring,
            norm_first=c.norm_first,
            dropout=c.dropout,
        )

    def build_norm(self) -> nn.Module:
        if self.config.norm_first:
            return nn.LayerNorm(self.config.dim, eps=1e-12)
        return nn.Identity()  # post-LN: every layer already ends in a LayerNorm

    def build_head(self) -> nn.Module:
        c = self.config
        if c.head == "mlm":
            return MLMHead(c.dim, self.embed.word)
        return Pooler(c.dim, c.num_classes, c.dropout)

    def init_weights(self) -> None:
        init_transformer_weights(self)
        with torch.no_grad():
            self.embed.word.weight[self.config.pad_id].zero_()

    def block_kwargs(self, x: Tensor, attention_mask: Tensor | None = None) -> dict[str, Any]:
        """The SDPA key mask (True = attend): from ``attention_mask`` (Hugging Face's: 1 = attend,
        0 = padding) when given, else from the pad ids. Passed even when a batch has no padding
        (all True: the same result at the same CPU speed, measured), because asking whether it
        has any waits for the device and breaks torch.compile's and export's graphs."""
        if attention_mask is not None:
            return {"attn_mask": attention_mask.bool()[:, None, None, :]}
        return {"attn_mask": (x != self.config.pad_id)[:, None, None, :]}

    def forward(
        self,
        x: Tensor,
        depth: int | None = None,
        *,
        attention_mask: Tensor | None = None,
        output_hidden_states: bool = False,
        return_dict: bool = False,
    ) -> Tensor | BertOutput:
        """Logits (``depth``: of the first ``depth`` blocks), or with ``return_dict`` a
        :class:`BertOutput`; ``output_hidden_states`` adds what the head reads at every depth,
        from the same pass (Hugging Face's semantics: embeddings first, then one per layer)."""
        if not (return_dict or output_hidden_states):
            return super().forward(x, depth, attention_mask=attention_mask)
        x0, kwargs = self.start(x, attention_mask=attention_mask)
        depth = self.depth if depth is None else check_depth(depth, self.depth)
        state, states = self.stack.start(x0), [x0]
        for _ in range(depth):
            state = self.stack.step(state, **kwargs)
            states.append(self.stack.read(state))
        hidden = tuple(states) if output_hidden_states else None
        return BertOutput(logits=self.predict(states[-1]), hidden_states=hidden)

    def no_weight_decay(self) -> set[str]:
        return {"embed.word.weight", "embed.position.weight", "embed.token_type.weight"}

    def example_input(
        self, batch_size: int = 2, generator: torch.Generator | None = None
    ) -> Tensor:
        c = self.config
        # ids >= 5 avoid the special tokens, so the example has no padding (full-length cost)
        return torch.randint(5, c.vocab_size, (batch_size, c.max_len), generator=generator)
