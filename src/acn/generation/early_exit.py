"""Per-token early exit (CALM-style, lossy): each new token is read off the first depth whose
shared-head confidence (the top softmax probability) reaches a threshold.

The blocks a token skips are not skipped for good: its state at its exit depth waits, and when a
later token goes deeper, the waiting positions run the missing blocks together with it, in one
pass per block. Every position therefore ends up with exactly the keys and values the full
model gives it (no copied states, unlike CALM), so the only loss is the exited tokens' own
predictions, and :func:`exit_cost` measures it exactly with teacher forcing on held-out text.
What the exits save is sequential steps (several positions per block call), not FLOPs.
Batch size 1; :func:`acn.generation.generate` runs the rows of a batch one after another.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..connectivity import StackState
from ..models.base import StackModel
from .cache import ModelCache
from .decode import Streamer, count_new, last_logits, run_blocks, sync
from .result import GenerationResult
from .sampling import Sampling


def confidence(logits: Tensor) -> Tensor:
    """The top softmax probability of logits [..., V]."""
    return logits.float().softmax(dim=-1).amax(dim=-1)


@torch.inference_mode()
def decode_early_exit(
    model: StackModel,
    ids: Tensor,
    *,
    max_new_tokens: int,
    sampling: Sampling,
    threshold: float,
    eos_token_id: int | None = None,
    generator: torch.Generator | None = None,
    streamer: Streamer | None = None,
) -> GenerationResult:
    """Generate for one row ``ids`` [1, T]; see the module docstring."""
    started = time.perf_counter()
    stack, depth, p = model.stack, model.depth, ids.shape[1]
    cache = ModelCache(model, p + max_new_tokens, depth)
    pending: list[StackState] = []  # positions not yet through every block, oldest first
    emitted: list[Tensor] = []
    exits: list[int] = []
    with cache.attached():
        x0, kwargs = model.start(ids)
        state = run_blocks(model, stack.start(x0), depth, kwargs)
        logits = last_logits(model, state)
        for n in range(max_new_tokens):
            token = sampling.choose(logits, generator)
            emitted.append(token)
            exits.append(state.depth)
            if streamer is not None:
                streamer.put(token)
            if n + 1 == max_new_tokens or (eos_token_id is not None and int(token) == eos_token_id):
                break
            x0, _ = model.start(token.view(1, 1), past_length=p + n)
            state = stack.start(x0)
            while state.depth < depth:
                behind = p + n - cache.length(state.depth)  # earlier positions this block lacks
                if behind:
                    joined = stack.step(StackState.cat([*pending[-behind:], state]))
                    *caught_up, state = joined.split([1] * (behind + 1))
                    pending[-behind:] = caught_up
                else:
                    state = stack.step(state)
                logits = last_logits(model, state)
                if state.depth < depth and float(confidence(logits)) >= threshold:
                    break
            pending = [s for s in pending if s.depth < depth]
            if state.depth < depth:
                pending.append(state)
    sync(ids.device)
    if streamer is not None:
        streamer.end()
    new_ids = torch.cat(emitted).view(1, -1)
    return GenerationResult(
        sequences=torch.cat([ids, new_ids], dim=1),
        new_tokens=count_new(new_ids, eos_token_id),
        seconds=time.perf_counter() - started,
        method=f"early exit (threshold {threshold:g})",
        exit_depths=exits,
    )


@torch.inference_mode()
def exit_cost(
    model: StackModel, batches: Iterable[tuple[Tensor, Tensor]], threshold: float
) -> dict[str, float]:
    """Teacher-forced cost of the exit rule on held-out (inputs, next-token labels) batches:
    the mean loss (nats/token) and perplexity of the exited predictions beside the full
    model's, and the mean exit depth. Exact for :func:`decode_early_exit`, whose keys and
    values are the full model's."""
    model.eval()
    total = torch.zeros(3, dtype=torch.float64)  # exited nll, full nll, exit depth
    count = 0
    depth = model.depth
    for x, y in batches:
        features = model.features_per_depth(x)  # [L+1, B, T, D]
        labels = y.reshape(-1)
        chosen_nll = torch.zeros_like(labels, dtype=torch.float64)
        chosen_depth = torch.full_like(labels, depth)
        open_rows = torch.ones_like(labels, dtype=torch.bool)
        for k in range(1, depth + 1):
            logits = model.head(features[k]).reshape(labels.shape[0], -1).float()
            nll = F.cross_entropy(logits, labels, reduction="none").double()
            stop = open_rows if k == depth else open_rows & (confidence(logits) >= threshold)
            chosen_nll = torch.where(stop, nll, chosen_nll)
            chosen_depth = torch.where(stop, k, chosen_depth)
            open_rows &= ~stop
            if k == depth:
                full = nll
        total += torch.stack([chosen_nll.sum(), full.sum(), chosen_depth.double().sum()])
        count += labels.numel()
    exited, full_loss, mean_depth = (total / max(count, 1)).tolist()
    return {
        "threshold": threshold,
        "loss": exited,
        "perplexity": math.exp(exited),
        "full_loss": full_loss,
        "full_perplexity": math.exp(full_loss),
        "loss_cost": exited - full_loss,
        "mean_exit_depth": mean_depth,
        "tokens": count,
    }
