"""Remove blocks from anywhere in a trained model (not only the top, as truncation does).

``keep_blocks(model, [0, 1, 4, 5])`` is a standalone model of depth 4 whose block i is the
original block ``keep[i]``; the embedding, final norm and head are shared with the original. For
residual models this is the layer dropping of ShortGPT and Gromov et al.: the stream skips the
removed blocks. Exit branches and the dense wirings' per-depth mixing weights belong to a depth,
not a block, so models with them are refused.
"""

from __future__ import annotations

import dataclasses

from ..errors import ConfigError
from ..models.base import StackModel


def keep_blocks(model: StackModel, keep: list[int]) -> StackModel:
    """A new model with only the blocks ``keep`` (0-based, increasing), weights copied."""
    depth = model.depth
    if list(keep) != sorted(set(keep)) or any(not 0 <= i < depth for i in keep):
        raise ConfigError(
            f"blocks to keep must be increasing indices in 0..{depth - 1}, got {keep}"
        )
    if model.config.exit_branches or model.config.connectivity in ("denseformer", "densenet"):
        raise ConfigError("removing blocks needs a model without exit branches or dense wiring")
    small = type(model)(dataclasses.replace(model.config, depth=len(keep)))
    state = model.state_dict()
    new_index = {f"stack.blocks.{old}.": f"stack.blocks.{new}." for new, old in enumerate(keep)}
    mapped = {}
    for key, value in state.items():
        if key.startswith("stack.blocks."):
            prefix = ".".join(key.split(".")[:3]) + "."
            if prefix not in new_index:
                continue
            key = new_index[prefix] + key[len(prefix) :]
        mapped[key] = value
    small.load_state_dict(mapped)
    ref = next(model.parameters())
    return small.to(device=ref.device, dtype=ref.dtype).train(model.training)
