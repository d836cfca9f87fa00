"""``--draft-depth auto``: the self-speculative draft depth, chosen by a short calibration.

Which depth drafts fastest depends on how often the draft agrees with the full model and on
what a block costs on this machine, so it is measured rather than guessed: greedy
self-speculative decoding of a few tokens from the user's prompt at every depth 1..L-1, beside
plain decoding, and the depth with the most tokens/s wins (each timed twice, the faster kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError
from ..models.base import StackModel
from .generate import NUM_ASSISTANT_TOKENS, generate_result

CALIBRATION_TOKENS = 32


@dataclass
class DraftDepthChoice:
    depth: int
    tokens_per_s: dict[int, float]  # draft depth -> tokens/s in the calibration
    plain_tokens_per_s: float
    acceptance: dict[int, float]

    def line(self) -> str:
        rates = ", ".join(
            f"K={k}: {v:.0f} tok/s ({self.acceptance[k]:.0%} accepted)"
            for k, v in self.tokens_per_s.items()
        )
        return (
            f"draft depth auto: {self.depth} (calibration on {CALIBRATION_TOKENS} tokens: "
            f"plain {self.plain_tokens_per_s:.0f} tok/s; {rates})"
        )


def choose_draft_depth(
    model: StackModel,
    ids: Tensor,
    num_assistant_tokens: int = NUM_ASSISTANT_TOKENS,
    tokens: int = CALIBRATION_TOKENS,
) -> DraftDepthChoice:
    """Calibrate on prompt ``ids`` [1, T]; see the module docstring."""
    if model.depth < 2:
        raise ConfigError("self-speculative decoding needs a model of at least 2 blocks")
    tokens = max(1, min(tokens, model.config.max_len - ids.shape[1]))

    def best_of_two(**kwargs):
        runs = [generate_result(model, ids, max_new_tokens=tokens, **kwargs) for _ in range(2)]
        return max(runs, key=lambda r: r.tokens_per_s)

    with torch.inference_mode():
        plain = best_of_two()
        speeds, acceptance = {}, {}
        for k in range(1, model.depth):
            r = best_of_two(assistant_early_exit=k, num_assistant_tokens=num_assistant_tokens)
            speeds[k], acceptance[k] = r.tokens_per_s, r.acceptance_rate or 0.0
    depth = max(speeds, key=speeds.get)
    return DraftDepthChoice(depth, speeds, plain.tokens_per_s, acceptance)
