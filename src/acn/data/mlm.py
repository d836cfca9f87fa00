"""BERT masked-language-model corruption of a batch of token ids."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import ConfigError
from .tokenizer import CLS_ID, MASK_ID, PAD_ID, SEP_ID

IGNORE_INDEX = -100  # what F.cross_entropy skips by default


def mlm_mask(
    ids: torch.Tensor,
    vocab_size: int,
    mask_id: int = MASK_ID,
    special_ids: Sequence[int] = (PAD_ID, CLS_ID, SEP_ID),
    prob: float = 0.15,
    gen: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Select each non-special token with probability `prob`; of those 80% become [MASK], 10% a
    random token, 10% stay unchanged (Devlin et al. 2019).

    Returns (inputs, labels): labels hold the original id at selected positions and -100
    elsewhere. Random replacements are drawn from the ordinary vocabulary (ids above all special
    ids), so they never inject [PAD]/[CLS]/[SEP]/[MASK].
    """
    if not 0.0 <= prob <= 1.0:
        raise ConfigError(f"mask probability must be in [0, 1], got {prob}")
    low = max(*special_ids, mask_id) + 1
    if low >= vocab_size:
        raise ConfigError(f"vocab_size {vocab_size} leaves no ordinary tokens above id {low - 1}")
    dev = gen.device if gen is not None else ids.device
    u = torch.rand(ids.shape, generator=gen, device=dev).to(ids.device)
    r = torch.rand(ids.shape, generator=gen, device=dev).to(ids.device)
    random_ids = torch.randint(low, vocab_size, ids.shape, generator=gen, device=dev).to(ids.device)
    special = torch.isin(ids, torch.tensor(list(special_ids), device=ids.device))
    selected = (u < prob) & ~special
    labels = torch.where(selected, ids, torch.full_like(ids, IGNORE_INDEX))
    inputs = torch.where(selected & (r < 0.8), torch.full_like(ids, mask_id), ids)
    inputs = torch.where(selected & (r >= 0.8) & (r < 0.9), random_ids, inputs)
    return inputs, labels
