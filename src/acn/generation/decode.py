"""Plain decoding with a key/value cache: the prompt in one pass, then one token per step.

The shared pieces of every decoder live here too: running blocks ``start .. end - 1`` of the
stack on a state, and reading the next-token logits off a state through the shared head.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import torch
from torch import Tensor

from ..connectivity import StackState
from ..models.base import StackModel
from .cache import ModelCache
from .result import GenerationResult
from .sampling import Sampling


class Streamer(Protocol):
    """Hugging Face's streamer protocol: ``put`` gets each new token id tensor [B] as it is
    decided, ``end`` is called once when generation stops."""

    def put(self, value: Tensor) -> None: ...

    def end(self) -> None: ...


def run_blocks(
    model: StackModel, state: StackState, end: int, kwargs: dict[str, Any] | None = None
) -> StackState:
    """``state`` carried through blocks ``state.depth + 1 .. end`` (each with its cache)."""
    step, kwargs = model.stack.step, kwargs or {}
    for _ in range(state.depth, end):
        state = step(state, **kwargs)
    return state


def last_logits(model: StackModel, state: StackState) -> Tensor:
    """Next-token logits [B, V] at the state's depth, read at its last position only."""
    return model.predict(model.stack.read(state)[:, -1:])[:, 0]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def decode(
    model: StackModel,
    ids: Tensor,
    *,
    max_new_tokens: int,
    sampling: Sampling,
    depth: int,
    attention_mask: Tensor | None = None,
    eos_token_id: int | None = None,
    generator: torch.Generator | None = None,
    streamer: Streamer | None = None,
) -> GenerationResult:
    """Generate with blocks 1..``depth`` (all of them: the full model) and a KV cache.

    ``attention_mask`` marks left padding ([B, T], 0 = pad); None means none."""
    started = time.perf_counter()
    b, p = ids.shape
    out = ids.new_empty(b, max_new_tokens)
    finished = torch.zeros(b, dtype=torch.bool, device=ids.device)
    steps = 0
    cache = ModelCache(model, p + max_new_tokens, depth)
    with cache.attached():
        x0, kwargs = model.start(ids, attention_mask=attention_mask)
        state = run_blocks(model, model.stack.start(x0), depth, kwargs)
        for n in range(max_new_tokens):
            token = sampling.choose(last_logits(model, state), generator)
            if eos_token_id is not None:
                token = token.masked_fill(finished, eos_token_id)
                finished |= token == eos_token_id
            out[:, n] = token
            if streamer is not None:
                streamer.put(token)
            steps = n + 1
            if steps == max_new_tokens or (eos_token_id is not None and bool(finished.all())):
                break
            if attention_mask is not None:
                attention_mask = torch.cat([attention_mask, attention_mask.new_ones(b, 1)], dim=1)
            x0, kwargs = model.start(token[:, None], attention_mask, past_length=p + n)
            state = run_blocks(model, model.stack.start(x0), depth, kwargs)
    sync(ids.device)
    if streamer is not None:
        streamer.end()
    new = out[:, :steps]
    return GenerationResult(
        sequences=torch.cat([ids, new], dim=1),
        new_tokens=count_new(new, eos_token_id),
        seconds=time.perf_counter() - started,
        method="plain" if depth == model.depth else f"depth {depth}",
    )


def count_new(new: Tensor, eos_token_id: int | None) -> int:
    """Generated tokens per row up to and including its first eos, summed over rows."""
    if eos_token_id is None or new.numel() == 0:
        return int(new.numel())
    is_eos = new == eos_token_id
    first = torch.where(is_eos.any(1), is_eos.int().argmax(1) + 1, new.shape[1])
    return int(first.sum())
