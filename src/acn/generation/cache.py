"""A model's key/value caches for one generation.

:class:`ModelCache` gives every causal attention layer of the first ``depth`` blocks a
:class:`acn.causal.LayerCache` and attaches them for the duration of a ``with``: the model's own
``stack.step`` then reads and extends them, so the decoders run the ordinary connectivity
primitives (any wiring, any block) and never a copy of them.

Self-speculative decoding and per-token early exit run the first blocks on single tokens and the
remaining blocks on several positions at once, joining and splitting the per-position stack
states along the token axis with :meth:`acn.connectivity.StackState.cat` and ``split``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from ..causal import LayerCache, attach, causal_layers
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
