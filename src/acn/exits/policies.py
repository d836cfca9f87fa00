"""When a sample leaves: entropy, max-probability and patience exit rules.

A policy looks at the logits of one exit for the samples still running and says which of them
leave there; the last exit takes every sample that is left. The same :meth:`ExitPolicy.decide`
drives both the simulation over precomputed per-exit logits (:func:`simulate_exits`, used for
calibration and sweeps) and the real early-exit inference path, so the two cannot disagree.

- ``entropy`` (the paper's, BranchyNet): leave when the softmax entropy, in nats (natural log),
  is below ``tau`` (default 0.7, the paper's).
- ``maxprob`` (MSDNet): leave when the largest softmax probability is above ``tau``.
- ``patience`` (PABEE): leave when the predicted class has been the same at ``tau`` consecutive
  exits, this one included (``tau`` = n >= 1; n = 1 leaves at the first exit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError

POLICIES = ("entropy", "maxprob", "patience")
DEFAULT_TAU = {"entropy": 0.7, "maxprob": 0.9, "patience": 2.0}


@dataclass
class PolicyState:
    """What a policy remembers per running sample (patience: last prediction and run length)."""

    prediction: Tensor | None = None
    run: Tensor | None = None

    def select(self, index: Tensor) -> PolicyState:
        """Keep only the rows in ``index`` (the samples that did not leave)."""
        if self.prediction is None:
            return self
        return PolicyState(self.prediction[index], self.run[index])


@dataclass(frozen=True)
class ExitPolicy:
    """An exit rule and its threshold (``tau=None`` takes the kind's default)."""

    kind: str = "entropy"
    tau: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in POLICIES:
            raise ConfigError(
                f"unknown exit policy {self.kind!r}; choose one of {', '.join(POLICIES)}"
            )
        if self.tau is None:
            object.__setattr__(self, "tau", DEFAULT_TAU[self.kind])
        tau = float(self.tau)
        if not math.isfinite(tau):
            raise ConfigError(f"exit threshold must be finite, got {self.tau}")
        if self.kind == "patience" and (tau < 1 or tau != int(tau)):
            raise ConfigError(f"patience must be a whole number >= 1, got {self.tau}")
        if self.kind == "entropy" and tau < 0:
            raise ConfigError(f"entropy threshold must be >= 0, got {self.tau}")
        if self.kind == "maxprob" and not 0 <= tau <= 1:
            raise ConfigError(f"max-probability threshold must be in [0, 1], got {self.tau}")
        object.__setattr__(self, "tau", tau)

    def with_tau(self, tau: float) -> ExitPolicy:
        return ExitPolicy(self.kind, tau)

    def score(self, logits: Tensor) -> Tensor:
        """What the rule looks at, per row of ``logits`` [..., C]: entropy (nats), top
        probability, or predicted class (patience). Depends on the kind only, not on ``tau``."""
        logits = logits.float()
        if self.kind == "entropy":
            return entropy(logits)
        if self.kind == "maxprob":
            return logits.softmax(dim=-1).amax(dim=-1)
        return logits.argmax(dim=-1)

    def leave(self, score: Tensor, state: PolicyState) -> tuple[Tensor, PolicyState]:
        """Which rows leave at this exit given their :meth:`score`, and the next state."""
        if self.kind == "entropy":
            return score < self.tau, state
        if self.kind == "maxprob":
            return score > self.tau, state
        if state.prediction is None:
            run = torch.ones_like(score)
        else:
            run = torch.where(score == state.prediction, state.run + 1, torch.ones_like(score))
        return run >= int(self.tau), PolicyState(score, run)

    def decide(self, logits: Tensor, state: PolicyState) -> tuple[Tensor, PolicyState]:
        """Which rows of ``logits`` [B, C] leave at this exit, and the state for the next one."""
        return self.leave(self.score(logits), state)


def entropy(logits: Tensor) -> Tensor:
    """Softmax entropy in nats of each row of ``logits`` [..., C]."""
    logp = logits.float().log_softmax(dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)


def simulate_exits(
    policy: ExitPolicy, logits: Tensor | None = None, *, scores: Tensor | None = None
) -> Tensor:
    """Index of the exit each sample leaves at, from precomputed per-exit logits [E, B, C] (or
    their ``policy.score`` [E, B], which a threshold sweep computes once).

    Exactly what the real inference path decides: a sample's state only ever sees the exits it
    reached, and the last exit takes every sample that is left.
    """
    if scores is None:
        if logits is None:
            raise ValueError("simulate_exits needs logits or scores")
        scores = policy.score(logits)
    num_exits, batch = scores.shape[:2]
    exit_at = torch.full((batch,), num_exits - 1, dtype=torch.long, device=scores.device)
    running = torch.ones(batch, dtype=torch.bool, device=scores.device)
    state = PolicyState()
    for j in range(num_exits - 1):
        leave, state = policy.leave(scores[j], state)
        exit_at[running & leave] = j
        running &= ~leave
    return exit_at
