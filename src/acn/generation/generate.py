"""``generate``: the one entry point of decoding, with Hugging Face's argument names.

Checks every option before any work (one-line errors), then runs one of three decoders:

- plain KV-cache decoding of the full model, or of its first ``depth`` blocks (a cut on the fly);
- ``assistant_early_exit=K``: lossless self-speculative decoding, drafting with blocks 1..K
  (:mod:`.speculative`);
- ``exit_threshold=C``: per-token early exit, lossy (:mod:`.early_exit`).

Batches may be left-padded (``attention_mask``, 0 = padding). The self-speculative and
early-exit decoders take one row at a time; a batch runs row by row, each without its padding.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from ..errors import ConfigError, DataError
from ..models.base import StackModel
from .decode import Streamer, decode
from .early_exit import decode_early_exit
from .result import GenerationResult
from .sampling import MAX_NEW_TOKENS, Sampling
from .speculative import decode_self_speculative

NUM_ASSISTANT_TOKENS = 4  # gamma, the tokens drafted per round (see acn bench generate)


def generate_result(
    model: StackModel,
    input_ids: Tensor,
    *,
    max_new_tokens: int = 20,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_token_id: int | None = None,
    attention_mask: Tensor | None = None,
    depth: int | None = None,
    assistant_early_exit: int | None = None,
    num_assistant_tokens: int = NUM_ASSISTANT_TOKENS,
    exit_threshold: float | None = None,
    seed: int | None = None,
    streamer: Streamer | None = None,
) -> GenerationResult:
    """Generate and report the cost; :func:`generate` returns only the sequences.

    Args:
        input_ids: int [B, T] prompt tokens (left-padded when rows differ in length).
        max_new_tokens: tokens to add (>= 1); the prompt plus these must fit the context.
        do_sample, temperature, top_k, top_p: greedy, or sampling (see :class:`Sampling`).
        eos_token_id: a row stops after producing it (later positions repeat it).
        attention_mask: [B, T], 1 = token, 0 = left padding.
        depth: decode with only the first ``depth`` blocks (default: all; 0: the embedding alone).
        assistant_early_exit: self-speculative draft depth K in 1..L-1 (lossless).
        num_assistant_tokens: tokens drafted per self-speculative round.
        exit_threshold: per-token early exit at this confidence, in (0, 1] (lossy).
        seed: seed of the sampling generator (default: the global RNG's state).
        streamer: gets each new token as it is decided (``put``) and ``end()`` at the end
            (Hugging Face's protocol; batch size 1 for self-speculative and early exit).
    """
    sampling = Sampling(do_sample, temperature, top_k, top_p)
    ids, mask = _check_prompt(model, input_ids, attention_mask)
    _check_count("max_new_tokens", max_new_tokens, 1, MAX_NEW_TOKENS)
    room = model.config.max_len - ids.shape[1]
    if max_new_tokens > room:
        raise DataError(
            f"a prompt of {ids.shape[1]} tokens leaves room for {room} new tokens in the "
            f"model's context of {model.config.max_len}, not max_new_tokens={max_new_tokens}"
        )
    chosen = [
        n
        for n, v in (
            ("depth", depth),
            ("assistant_early_exit", assistant_early_exit),
            ("exit_threshold", exit_threshold),
        )
        if v is not None
    ]
    if len(chosen) > 1:
        raise ConfigError(
            f"choose one of depth, assistant_early_exit, exit_threshold, not {chosen}"
        )
    if eos_token_id is not None:
        _check_count("eos_token_id", eos_token_id, 0, model.config.vocab_size - 1)
    generator = _generator(seed, ids.device)
    common = dict(
        max_new_tokens=max_new_tokens,
        sampling=sampling,
        eos_token_id=eos_token_id,
        generator=generator,
        streamer=streamer,
    )
    if assistant_early_exit is not None:
        _check_count("assistant_early_exit", assistant_early_exit, 1, model.depth - 1)
        _check_count("num_assistant_tokens", num_assistant_tokens, 1, MAX_NEW_TOKENS)
        return _row_by_row(
            decode_self_speculative,
            model,
            ids,
            mask,
            draft_depth=assistant_early_exit,
            num_assistant_tokens=num_assistant_tokens,
            **common,
        )
    if exit_threshold is not None:
        if not (isinstance(exit_threshold, (int, float)) and 0 < exit_threshold <= 1):
            raise ConfigError(f"exit_threshold must be in (0, 1], got {exit_threshold!r}")
        return _row_by_row(decode_early_exit, model, ids, mask, threshold=exit_threshold, **common)
    if depth is None:
        depth = model.depth
    _check_count("depth", depth, 0, model.depth)
    return decode(model, ids, depth=depth, attention_mask=mask, **common)


def generate(model: StackModel, input_ids: Tensor, **kwargs) -> Tensor:
    """``input_ids`` [B, T] followed by the new tokens: [B, T + new]. Options as
    :func:`generate_result` (Hugging Face's ``generate`` names)."""
    return generate_result(model, input_ids, **kwargs).sequences


def _check_count(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        if high < low:
            raise ConfigError(f"{name} needs a model of at least {low + 1} blocks")
        raise ConfigError(f"{name} must be a whole number in {low}..{high}, got {value!r}")


def _check_prompt(
    model: StackModel, ids: Tensor, mask: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    if not isinstance(ids, Tensor) or ids.ndim != 2 or ids.dtype not in (torch.int64, torch.int32):
        shape = list(ids.shape) if isinstance(ids, Tensor) else type(ids).__name__
        raise DataError(f"input_ids must be integer token ids of shape [B, T], got {shape}")
    if ids.shape[0] == 0 or ids.shape[1] == 0:
        raise DataError("the prompt is empty: give at least one token")
    vocab = model.config.vocab_size
    if int(ids.min()) < 0 or int(ids.max()) >= vocab:
        raise DataError(
            f"token ids must be in 0..{vocab - 1} (the model's vocabulary), got "
            f"{int(ids.min())}..{int(ids.max())}"
        )
    if ids.shape[1] > model.config.max_len:
        raise DataError(
            f"the prompt has {ids.shape[1]} tokens, more than the model's context of "
            f"{model.config.max_len}"
        )
    ids = ids.long().to(next(model.parameters()).device)
    if mask is None:
        return ids, None
    if mask.shape != ids.shape:
        raise DataError(f"attention_mask must have the shape of input_ids {list(ids.shape)}")
    mask = mask.to(ids.device).long()
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise DataError("attention_mask must hold 0 (padding) and 1 (token) only")
    if bool((mask[:, 1:] < mask[:, :-1]).any()):
        raise DataError("attention_mask must be left padding: zeros before the tokens of a row")
    if not bool(mask[:, -1].all()):
        raise DataError("every row of the prompt needs at least one token")
    return ids, (None if bool(mask.all()) else mask)


def _generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    if seed is None:
        return None
    return torch.Generator(device=device).manual_seed(int(seed))


def _row_by_row(decoder, model, ids, mask, **kwargs) -> GenerationResult:
    """One-row decoders over a batch: each row without its padding, results joined back into
    left-padded sequences (rows that ended early are padded at the end with eos, or the pad of
    their own prompt)."""
    if ids.shape[0] == 1 and mask is None:
        return decoder(model, ids, **kwargs)
    results = []
    for row in range(ids.shape[0]):
        start = 0 if mask is None else int((mask[row] == 0).sum())
        results.append(decoder(model, ids[row : row + 1, start:], **kwargs))
    new = [r.sequences.shape[1] - (ids.shape[1] - _pad(mask, i)) for i, r in enumerate(results)]
    width = ids.shape[1] + max(new)
    fill = kwargs.get("eos_token_id")
    out = ids.new_full((ids.shape[0], width), 0 if fill is None else fill)
    for i, r in enumerate(results):
        pad = _pad(mask, i)
        out[i, :pad] = ids[i, :pad]
        out[i, pad : pad + r.sequences.shape[1]] = r.sequences[0]
    first = results[0]
    return replace(
        first,
        sequences=out,
        new_tokens=sum(r.new_tokens for r in results),
        seconds=sum(r.seconds for r in results),
        drafted=sum(r.drafted for r in results),
        accepted=sum(r.accepted for r in results),
        rounds=sum(r.rounds for r in results),
        exit_depths=[d for r in results for d in r.exit_depths],
    )


def _pad(mask: Tensor | None, row: int) -> int:
    return 0 if mask is None else int((mask[row] == 0).sum())
