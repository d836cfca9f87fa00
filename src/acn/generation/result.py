"""What one generation produced and what it cost: the tokens, the time, and for
self-speculative decoding and early exit how the drafts and exits went."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor


@dataclass
class GenerationResult:
    """``sequences`` [B, T + new]: the prompt as given, then the new tokens (after an
    ``eos_token_id`` a finished row repeats it, as Hugging Face pads finished rows).

    ``new_tokens`` counts generated tokens over all rows up to and including each row's eos.
    Self-speculative decoding (``draft_depth``) fills ``drafted`` (tokens the draft proposed),
    ``accepted`` (those the full model kept) and ``rounds`` (draft-verify rounds); per-token
    early exit fills ``exit_depths`` (the depth each new token was read at)."""

    sequences: Tensor
    new_tokens: int
    seconds: float
    method: str
    draft_depth: int | None = None
    drafted: int = 0
    accepted: int = 0
    rounds: int = 0
    exit_depths: list[int] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else float("inf")

    @property
    def acceptance_rate(self) -> float | None:
        """Share of drafted tokens the full model accepted."""
        return self.accepted / self.drafted if self.drafted else None

    @property
    def mean_accepted_length(self) -> float | None:
        """Drafted tokens accepted per draft-verify round (0 .. num_assistant_tokens)."""
        return self.accepted / self.rounds if self.rounds else None

    @property
    def mean_exit_depth(self) -> float | None:
        return sum(self.exit_depths) / len(self.exit_depths) if self.exit_depths else None

    def stats(self) -> dict[str, Any]:
        """The numbers, JSON-ready (no tensors)."""
        out: dict[str, Any] = {
            "method": self.method,
            "new_tokens": self.new_tokens,
            "seconds": round(self.seconds, 6),
            "tokens_per_s": round(self.tokens_per_s, 3),
        }
        if self.draft_depth is not None:
            out.update(
                draft_depth=self.draft_depth,
                drafted=self.drafted,
                accepted=self.accepted,
                rounds=self.rounds,
                acceptance_rate=self.acceptance_rate,
                mean_accepted_length=self.mean_accepted_length,
            )
        if self.exit_depths:
            out["mean_exit_depth"] = self.mean_exit_depth
        return out
