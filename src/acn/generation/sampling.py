"""How the next token is chosen from a model's logits, with Hugging Face's option names.

Greedy decoding takes the argmax. Sampling draws from ``softmax(logits / temperature)`` restricted
by ``top_k`` (the k most likely tokens) and then ``top_p`` (the smallest set of most likely
tokens whose probability reaches p), in that order, as Hugging Face's logits processors do.
:func:`next_token_probs` is that distribution; self-speculative sampling compares the draft's
and the full model's versions of it, so both go through this one function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError

MAX_NEW_TOKENS = 1 << 20  # far beyond any context acn builds; a typo, not a plan


@dataclass(frozen=True)
class Sampling:
    """Greedy (``do_sample=False``) or sampling with temperature, top-k and top-p."""

    do_sample: bool = False
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        t = self.temperature
        if not isinstance(t, (int, float)) or not math.isfinite(t):
            raise ConfigError(f"temperature must be a finite number, got {t!r}")
        if self.do_sample and t <= 0:
            raise ConfigError(
                f"temperature must be > 0 when sampling, got {t} (greedy decoding: no sampling)"
            )
        k = self.top_k
        if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 1):
            raise ConfigError(f"top_k must be a whole number >= 1, got {k!r}")
        p = self.top_p
        if p is not None and (not isinstance(p, (int, float)) or not 0 < p <= 1):
            raise ConfigError(f"top_p must be in (0, 1], got {p!r}")  # NaN fails the test too

    def probs(self, logits: Tensor) -> Tensor:
        """The sampling distribution over the last axis of ``logits`` (float32)."""
        return next_token_probs(logits, self.temperature, self.top_k, self.top_p)

    def choose(self, logits: Tensor, generator: torch.Generator | None) -> Tensor:
        """Next token ids for logits [..., V]: the argmax, or a draw from :meth:`probs`."""
        if not self.do_sample:
            return logits.argmax(dim=-1)
        return draw(self.probs(logits), generator)


def next_token_probs(
    logits: Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> Tensor:
    """softmax(logits / temperature) with everything outside top-k, then top-p, set to 0."""
    scores = logits.float() / temperature
    if top_k is not None and top_k < scores.shape[-1]:
        kth = scores.topk(top_k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, -math.inf)
    if top_p is not None and top_p < 1:
        sorted_scores, order = scores.sort(dim=-1, descending=True)
        cum = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
        # drop a token when the ones before it already reach top_p (the first always stays)
        drop_sorted = (cum - sorted_scores.softmax(dim=-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        scores = scores.masked_fill(drop, -math.inf)
    return scores.softmax(dim=-1)


def draw(probs: Tensor, generator: torch.Generator | None) -> Tensor:
    """One token per row of ``probs`` [..., V]."""
    flat = probs.reshape(-1, probs.shape[-1])
    out = torch.multinomial(flat, 1, generator=generator).squeeze(-1)
    return out.reshape(probs.shape[:-1])
