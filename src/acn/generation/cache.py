"""A model's key/value caches for one generation, and pass states joined along the token axis.

:func:`model_caches` gives every causal attention layer of the first ``depth`` blocks a
:class:`acn.causal.LayerCache` and attaches them for the duration of a ``with``: the model's own
``stack.step`` then reads and extends them, so the decoders run the ordinary connectivity
primitives (any wiring, any block) and never a copy of them.

Self-speculative decoding and per-token early exit run the first blocks on single tokens and the
remaining blocks on several positions at once; :func:`cat_states` / :func:`split_states` join and
split the per-position stack states along the token axis (every tensor of a
:class:`acn.connectivity.StackState` is token-major: [B, T, ...]).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

import torch
from torch import Tensor

from ..causal import LayerCache, attach, causal_layers
from ..connectivity import StackState
from ..errors import ConfigError
from ..models.base import StackModel


class ModelCache:
    """One :class:`LayerCache` per causal attention layer of blocks 1..depth, grouped by block."""

    def __init__(self, model: StackModel, size: int, depth: int) -> None:
        self.layers = [causal_layers(block) for block in model.stack.blocks[:depth]]
        if not all(self.layers):
            raise ConfigError(f"{model.family} models have no causal attention to decode with")
        self.blocks = [[LayerCache(size) for _ in layers] for layers in self.layers]

    def length(self, block: int) -> int:
        """Positions cached by block ``block`` (0-based)."""
        return self.blocks[block][0].length

    def crop(self, length: int) -> None:
        """Every block forgets the positions from ``length`` on."""
        for caches in self.blocks:
            for cache in caches:
                cache.crop(min(length, cache.length))

    @contextmanager
    def attached(self) -> Iterator[ModelCache]:
        with ExitStack() as stack:
            for layers, caches in zip(self.layers, self.blocks):
                stack.enter_context(attach(layers, caches))
            yield self


def cat_states(states: Sequence[StackState]) -> StackState:
    """Per-position states (equal depth) joined along the token axis."""
    first = states[0]
    values = {}
    for f in dataclasses.fields(first):
        parts = [getattr(s, f.name) for s in states]
        if isinstance(parts[0], Tensor):
            values[f.name] = torch.cat(parts, dim=1)
        elif isinstance(parts[0], list):
            values[f.name] = [torch.cat(column, dim=1) for column in zip(*parts)]
    return dataclasses.replace(first, **values)


def split_states(state: StackState, sizes: Sequence[int]) -> list[StackState]:
    """The inverse of :func:`cat_states`: ``state`` cut along the token axis into ``sizes``."""
    columns = {}
    for f in dataclasses.fields(state):
        value = getattr(state, f.name)
        if isinstance(value, Tensor):
            columns[f.name] = value.split(list(sizes), dim=1)
        elif isinstance(value, list):
            columns[f.name] = list(zip(*(t.split(list(sizes), dim=1) for t in value)))
    out = []
    for i in range(len(sizes)):
        changes = {
            name: list(parts[i]) if isinstance(getattr(state, name), list) else parts[i]
            for name, parts in columns.items()
        }
        out.append(dataclasses.replace(state, **changes))
    return out
