"""Decoding speed of trained language models at batch 1, every way acn decodes, side by side.

For each model (an arm's trained run), the decoders :func:`decoders_of` lists:

- ``plain``: greedy KV-cache decoding of the full model;
- ``spec-K``: lossless self-speculative decoding drafting with blocks 1..K (every K in 1..L-1);
- ``cut``: the model truncated at its loss cutoff c (when c < L), plain, and ``cut-spec-K``
  self-speculatively (K in 1..c-1): lossless for the cut model, whose loss is its loss at depth c;
- ``exit-C``: per-token early exit at confidence C (lossy; its loss is the teacher-forced cost
  of the exit rule on the validation text, :func:`acn.generation.exit_cost`).

:func:`time_decoders` runs all of them in one process: a warm-up round, then rounds in which
every decoder generates the same number of new tokens after each of a few prompts (the first
tokens of validation windows), the order reversed every other round
(:func:`acn.experiments.bench.timing.interleave`), so load from other processes hits all alike.
A decoder's speedup is the median over rounds of the reference decoder's time over its own in
the same round: a ratio, never an absolute tokens/s, is what the experiments judge. Greedy
self-speculative output is checked token for token against plain decoding of the same model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..generation import exit_cost, generate_result
from ..models.base import StackModel
from .bench.timing import interleave, median_ms, ratio


@dataclass
class Decoder:
    """One way of decoding one arm's model: ``model`` (the full one or its cut) with
    ``generate`` keyword arguments; ``loss`` is the validation loss of what it decodes (None
    until the early-exit cost is measured)."""

    arm: str
    name: str
    model: StackModel
    kwargs: dict[str, Any]
    lossless: bool
    loss: float | None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.arm}/{self.name}"


def decoders_of(
    arm: str,
    model: StackModel,
    loss_per_depth: Sequence[float],
    cutoff: int,
    thresholds: Sequence[float] = (),
) -> list[Decoder]:
    """Every decoder of one model (see the module docstring); ``loss_per_depth`` [L+1] and
    ``cutoff`` are its validation losses and loss cutoff."""
    depth = model.depth
    full = loss_per_depth[depth]
    out = [Decoder(arm, "plain", model, {}, True, full)]
    out += [Decoder(arm, f"spec-K{k}", model, {"assistant_early_exit": k}, True, full)
            for k in range(1, depth)]  # fmt: skip
    if 0 < cutoff < depth:
        cut, loss = model.truncate(cutoff).eval(), loss_per_depth[cutoff]
        out.append(Decoder(arm, "cut", cut, {}, True, loss))
        out += [Decoder(arm, f"cut-spec-K{k}", cut, {"assistant_early_exit": k}, True, loss)
                for k in range(1, cutoff)]  # fmt: skip
    out += [Decoder(arm, f"exit-{c:g}", model, {"exit_threshold": c}, False, None)
            for c in thresholds]  # fmt: skip
    return out


def _decode_all(d: Decoder, prompts: Tensor, new_tokens: int) -> Callable[[], None]:
    """A call that decodes every prompt with ``d`` and keeps the counts of its last call."""

    def run() -> None:
        drafted = accepted = rounds = 0
        exits: list[int] = []
        sequences = []
        for row in prompts:
            r = generate_result(d.model, row[None], max_new_tokens=new_tokens, **d.kwargs)
            drafted, accepted, rounds = (
                drafted + r.drafted,
                accepted + r.accepted,
                rounds + r.rounds,
            )
            exits += r.exit_depths
            sequences.append(r.sequences)
        d.stats = {"drafted": drafted, "accepted": accepted, "rounds": rounds, "exits": exits,
                   "sequences": torch.cat(sequences)}  # fmt: skip

    return run


def time_decoders(
    decoders: Sequence[Decoder],
    prompts: Tensor,
    new_tokens: int,
    reference: str,
    repeats: int,
    warmup: int = 1,
) -> dict[str, dict[str, Any]]:
    """Decoder key -> its numbers (see the module docstring); ``prompts`` [P, T] are decoded
    by every decoder, ``reference`` is the key of the decoder every speedup is over."""
    by_key = {d.key: d for d in decoders}
    if reference not in by_key:
        raise ValueError(f"no decoder {reference!r} among {', '.join(by_key)}")
    fns = {key: _decode_all(d, prompts, new_tokens) for key, d in by_key.items()}
    with torch.inference_mode():
        times = interleave(fns, warmup, repeats)
    tokens = len(prompts) * new_tokens
    out = {}
    for key, d in by_key.items():
        speed = ratio(times, reference, key)
        row: dict[str, Any] = {
            "tokens_per_s": round(tokens / (median_ms(times[key]) / 1e3), 1),
            "speedup": speed.median,
            "speedup_p25_p75": [speed.p25, speed.p75],
            "seconds": times[key],  # every timed round, for paired ratios between decoders
            "loss": d.loss,
            "lossless": d.lossless,
            "blocks": d.model.depth,
        }
        s = d.stats
        if s["drafted"]:
            row["acceptance_rate"] = s["accepted"] / s["drafted"]
            row["mean_accepted_length"] = s["accepted"] / s["rounds"]
            # the plain decoding of the model it verifies with: the full model or its cut
            same = by_key[f"{d.arm}/{'cut' if d.name.startswith('cut') else 'plain'}"]
            row["same_tokens_as_plain"] = torch.equal(s["sequences"], same.stats["sequences"])
        if s["exits"]:
            row["mean_exit_depth"] = sum(s["exits"]) / len(s["exits"])
        out[key] = row
    return out


def exit_losses(decoders: Sequence[Decoder], batches: Callable[[], Any]) -> None:
    """Fill in every early-exit decoder's loss: the teacher-forced cost of its exit rule on the
    validation batches (``batches()`` gives a fresh iterator of (inputs, next tokens))."""
    for d in decoders:
        if "exit_threshold" in d.kwargs:
            with torch.inference_mode():
                d.loss = exit_cost(d.model, batches(), d.kwargs["exit_threshold"])["loss"]
