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
    ref = next(model.parameters())
    # in the model's dtype before the weights are copied in, so they are never rounded
    small = type(model)(dataclasses.replace(model.config, depth=len(keep)))
    small = small.to(device=ref.device, dtype=ref.dtype)
    state = model.state_dict()
    # a block's own weights: the block, and its long-connection weight (acn-weighted)
    per_block = ("stack.blocks.", "stack.long.")
    new_index = {
        f"{part}{old}.": f"{part}{new}." for part in per_block for new, old in enumerate(keep)
    }
    mapped = {}
    for key, value in state.items():
        if key.startswith(per_block):
            prefix = ".".join(key.split(".")[:3]) + "."
            if prefix not in new_index:
                continue
            key = new_index[prefix] + key[len(prefix) :]
        mapped[key] = value
    small.load_state_dict(mapped)
    return small.train(model.training)
