"""A language model's decoding step as a graph: new tokens in, logits and the updated key/value
cache out, so an exported gpt model decodes with a cache and nothing from ``acn``.

``(input_ids [B, t], position [] int64, past_keys, past_values) -> (logits [B, t, V], keys,
values)``, the caches [L, B, H, S, Dh] with S the model's context. The t new tokens sit at
positions ``position .. position + t - 1`` and are written into those cache slots
(:class:`acn.causal.PositionCache`); a query attends to the slots up to its own. Prefill is a step
at position 0 with the whole prompt, decoding a step per token. The cache has a fixed size, so
the graph has no data-dependent shapes and both exporters take it (batch and t are dynamic).
Checked like the logits graph: the exported file decodes a prompt and a few tokens next to a full
eager forward of the same sequence.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.export import Dim

from ..causal import PositionCache, attach, causal_layers
from ..errors import ConfigError
from ..models.base import StackModel
from .graph import GraphInputs

STEP_OUTPUTS = ["logits", "keys", "values"]


class KVStepGraph(nn.Module):
    """One decoding step of ``model`` (a gpt: one causal attention layer per block)."""

    def __init__(self, model: StackModel) -> None:
        super().__init__()
        self.model = model
        self.layers = [causal_layers(block) for block in model.stack.blocks]
        if not all(len(layers) == 1 for layers in self.layers):
            raise ConfigError(f"a {model.family} model has no causal attention to cache")

    def forward(
        self, input_ids: Tensor, position: Tensor, past_keys: Tensor, past_values: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        model, t = self.model, input_ids.shape[1]
        positions = position + torch.arange(t, device=input_ids.device)
        slots = torch.arange(past_keys.shape[3], device=input_ids.device)
        mask = (slots[None, :] <= positions[:, None])[None, None]  # [1, 1, t, S]
        caches = [PositionCache(past_keys[i], past_values[i], position) for i in range(model.depth)]
        x0 = model.embed(input_ids, positions)
        state = model.stack.start(x0)
        for i in range(model.depth):
            with attach(self.layers[i], [caches[i]]):
                state = model.stack.step(state, attn_mask=mask)
        logits = model.predict(model.stack.read(state))
        if not caches:
            return logits, past_keys, past_values
        return logits, torch.stack([c.k for c in caches]), torch.stack([c.v for c in caches])


def cache_shape(model: StackModel, batch: int) -> tuple[int, ...]:
    """[L, B, H, S, Dh] of the step graph's caches."""
    c = model.config
    heads = c.num_heads  # type: ignore[attr-defined]
    return (model.depth, batch, heads, c.max_len, c.dim // heads)  # type: ignore[attr-defined]


def step_inputs(model: StackModel, ids: Tensor, position: int = 0) -> GraphInputs:
    """Graph inputs of a step on ``ids`` at ``position`` with empty caches."""
    shape = cache_shape(model, ids.shape[0])
    zeros = torch.zeros(shape)
    batch = Dim("batch", min=1, max=2**20)
    # a step of a full context (t = S) would need no cache; excluding it keeps the graph general
    new = Dim("new_tokens", min=1, max=model.config.max_len - 1)  # type: ignore[attr-defined]
    return GraphInputs(
        (ids, torch.tensor(position), zeros, zeros.clone()),
        ["input_ids", "position", "past_keys", "past_values"],
        ({0: batch, 1: new}, {}, {1: batch}, {1: batch}),
    )


def check_decoding(
    step: Callable[..., tuple[Tensor, ...]], model: StackModel, ids: Tensor, new_tokens: int = 4
) -> tuple[float, float]:
    """(largest |logit| difference, share of equal argmaxes) between decoding with ``step``
    (prefill ``ids``, then ``new_tokens`` greedy tokens one at a time) and a full eager forward
    of the same sequence."""
    new_tokens = min(new_tokens, model.config.max_len - ids.shape[1])  # type: ignore[attr-defined]
    prompt = ids.shape[1]
    keys = torch.zeros(cache_shape(model, ids.shape[0]))
    values = keys.clone()
    logits, keys, values = step(ids, torch.tensor(0), keys, values)
    outputs, seq = [logits], ids
    for n in range(new_tokens):
        token = outputs[-1][:, -1:].argmax(-1)
        seq = torch.cat([seq, token], dim=1)
        logits, keys, values = step(token, torch.tensor(prompt + n), keys, values)
        outputs.append(logits)
    with torch.no_grad():
        eager = model(seq)
    decoded = torch.cat(outputs, dim=1)[:, : eager.shape[1]].detach()
    diff = float((decoded - eager).abs().max())
    return diff, float((decoded.argmax(-1) == eager.argmax(-1)).float().mean())
