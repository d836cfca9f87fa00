"""The random state of a training run: what makes a run a function of its seed.

The batch order and the augmentation of epoch e are pure functions of (seed, e)
(:func:`augment_seed`); the global generators (dropout, layer drop) are saved in every checkpoint
(:func:`rng_state`) and restored on resume (:func:`set_rng_state`); a measurement that replays a
training pass draws the same numbers as that pass and leaves the stream as it found it
(:func:`replay`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def augment_seed(seed: int, epoch: int) -> int:
    """Seed of epoch ``epoch``'s augmentation generator (independent of the shuffling stream)."""
    return (int(seed) * 1_000_003 + int(epoch) * 7919 + 1) % (2**63)


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The global generators' state: the CPU one, and ``device``'s when it is a GPU."""
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


@contextmanager
def replay(state: dict[str, torch.Tensor], device: torch.device) -> Iterator[None]:
    """Inside, the global generators start from ``state`` (a pass run here draws what the pass
    that started from ``state`` drew); afterwards they are exactly as before the block."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        set_rng_state(state, device)
        yield
