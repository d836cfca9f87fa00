"""Lossless self-speculative decoding: draft with the first K blocks, verify with the rest.

Invariant between rounds: every token but the last (``u``) has been through all L blocks. A
round feeds ``u`` and the gamma tokens the draft proposes through blocks 1..K one at a time (the
draft reads its next token off depth K through the shared head), then runs blocks K+1..L once on
the gamma + 1 depth-K states together. Blocks 1..K never run twice on a position: their keys and
values are already the full model's (in an ACN the depth-K draft *is* the full model's first K
blocks), so the verification only adds blocks K+1..L. The full model's predictions at those
gamma + 1 positions decide:

- greedy: the drafts are kept while they equal the full model's argmax; the first disagreement
  is replaced by the full model's token (or, when all agree, its token after the last draft is
  added), so the output is token for token the full model's greedy output;
- sampling: draft token d, drawn from q (the draft's distribution), is kept with probability
  min(1, p(d) / q(d)) where p is the full model's; the first rejected one is replaced by a draw
  from normalise(max(p - q, 0)), and a round that keeps every draft adds a draw from p after the
  last. Each new token is then distributed exactly as the full model's (Leviathan et al. 2023,
  Chen et al. 2023).

Then every block's cache is cropped to the kept positions (rejected drafts are forgotten) and
the last new token becomes ``u``. Batch size 1; :func:`acn.generation.generate` runs the rows of
a batch one after another.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor

from ..connectivity import StackState
from ..models.base import StackModel
from .cache import ModelCache
from .decode import Streamer, count_new, last_logits, run_blocks, sync
from .result import GenerationResult
from .sampling import Sampling, draw


@torch.inference_mode()
def decode_self_speculative(
    model: StackModel,
    ids: Tensor,
    *,
    max_new_tokens: int,
    sampling: Sampling,
    draft_depth: int,
    num_assistant_tokens: int,
    eos_token_id: int | None = None,
    generator: torch.Generator | None = None,
    streamer: Streamer | None = None,
) -> GenerationResult:
    """Generate for one row ``ids`` [1, T]; see the module docstring."""
    started = time.perf_counter()
    stack, depth, k = model.stack, model.depth, draft_depth
    cache = ModelCache(model, ids.shape[1] + max_new_tokens, depth)
    emitted: list[Tensor] = []
    drafted = accepted = rounds = 0
    with cache.attached():
        x0, kwargs = model.start(ids)
        state = run_blocks(model, stack.start(x0), depth, kwargs)
        u = sampling.choose(last_logits(model, state), generator)  # [1]
        emitted.append(u)
        if streamer is not None:
            streamer.put(u)
        while len(emitted) < max_new_tokens and not _ends(u, eos_token_id):
            gamma = min(num_assistant_tokens, max_new_tokens - len(emitted) - 1)
            done = cache.length(0)
            states, drafts, q = [], [], []
            token = u
            for j in range(gamma + 1):
                x0, _ = model.start(token.view(1, 1), past_length=done + j)
                states.append(run_blocks(model, stack.start(x0), k))
                if j == gamma:
                    break
                logits = last_logits(model, states[-1])
                if sampling.do_sample:
                    q.append(sampling.probs(logits)[0])
                    token = draw(q[-1], generator).view(1)
                else:
                    token = logits.argmax(dim=-1)
                drafts.append(token)
            verified = run_blocks(model, StackState.cat(states), depth)
            full = model.predict(stack.read(verified))[0]  # [gamma + 1, V]
            new = _accept(drafts, q, full, sampling, generator)
            cache.crop(done + len(new))  # u and the kept drafts; the last new token is the next u
            if gamma:
                drafted, accepted, rounds = drafted + gamma, accepted + len(new) - 1, rounds + 1
            for token in new:
                emitted.append(token)
                if streamer is not None:
                    streamer.put(token)
                u = token
                if _ends(token, eos_token_id):
                    break
    sync(ids.device)
    if streamer is not None:
        streamer.end()
    new_ids = torch.cat(emitted).view(1, -1)
    return GenerationResult(
        sequences=torch.cat([ids, new_ids], dim=1),
        new_tokens=count_new(new_ids, eos_token_id),
        seconds=time.perf_counter() - started,
        method=f"self-speculative (draft depth {k})",
        draft_depth=k,
        drafted=drafted,
        accepted=accepted,
        rounds=rounds,
    )


def _ends(token: Tensor, eos_token_id: int | None) -> bool:
    return eos_token_id is not None and int(token) == eos_token_id


def _accept(
    drafts: list[Tensor],
    q: list[Tensor],
    full: Tensor,
    sampling: Sampling,
    generator: torch.Generator | None,
) -> list[Tensor]:
    """The new tokens of a round: the kept drafts, then one token of the full model's."""
    gamma = len(drafts)
    if not sampling.do_sample:
        target = full.argmax(dim=-1)  # [gamma + 1]
        if gamma:
            disagree = torch.cat(drafts) != target[:gamma]
            kept = int(disagree.int().argmax()) if bool(disagree.any()) else gamma
        else:
            kept = 0
        return [*drafts[:kept], target[kept].view(1)]
    p = sampling.probs(full)  # [gamma + 1, V]
    device = full.device
    for j, (d, qj) in enumerate(zip(drafts, q)):
        r = torch.rand((), generator=generator, device=device)
        if bool(r * qj[d] < p[j, d]):  # kept with probability min(1, p(d) / q(d))
            continue
        residual = (p[j] - qj).clamp_min(0)
        if float(residual.sum()) <= 0:  # p <= q everywhere only when p == q (rounding)
            residual = p[j]
        return [*drafts[:j], draw(residual / residual.sum(), generator).view(1)]
    return [*drafts, draw(p[gamma], generator).view(1)]
