"""Wall-clock speed of a model: median latency after warm-up, and the machine it ran on.

Follows timm / Torch-Pruning benchmarks: warm-up runs first, then the median of repeated timed
forwards under ``torch.inference_mode``, synchronising on CUDA so a number is a finished forward.
Numbers only mean something next to :func:`machine_info`, which every report records.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from ..errors import ConfigError
from ..models.base import StackModel
from .flops import model_input


@dataclass
class Timing:
    """Median seconds per forward at ``batch_size`` and the implied samples per second."""

    batch_size: int
    median_s: float
    repeats: int
    warmup: int

    @property
    def samples_per_s(self) -> float:
        return self.batch_size / self.median_s

    def to_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "samples_per_s": self.samples_per_s}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    fns: dict[str, Callable[[], object]],
    device: torch.device,
    warmup: int = 3,
    repeats: int = 10,
) -> dict[str, list[float]]:
    """Seconds of each call of each function, run round-robin so that machine noise (other
    processes, clock changes) hits all of them alike; ``warmup`` untimed rounds first."""
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    times: dict[str, list[float]] = {name: [] for name in fns}
    with torch.inference_mode():
        for _ in range(warmup):
            for fn in fns.values():
                fn()
        _sync(device)
        for _ in range(repeats):
            for name, fn in fns.items():
                start = time.perf_counter()
                fn()
                _sync(device)
                times[name].append(time.perf_counter() - start)
    return times


def time_call(
    fn: Callable[[], object], device: torch.device, warmup: int = 3, repeats: int = 10
) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    return time_interleaved({"fn": fn}, device, warmup, repeats)["fn"]


def time_models(
    models: dict[str, StackModel], batch_size: int = 1, warmup: int = 3, repeats: int = 10
) -> dict[str, Timing]:
    """Median forward time of each model (eval mode) on its example input at ``batch_size``,
    timed interleaved so that models compared with each other see the same machine."""
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    inputs = {name: model_input(m, batch_size) for name, m in models.items()}
    modes = {name: m.training for name, m in models.items()}
    device = next(iter(inputs.values())).device
    try:
        for m in models.values():
            m.eval()
        fns = {name: (lambda m=m, x=inputs[name]: m(x)) for name, m in models.items()}
        times = time_interleaved(fns, device, warmup, repeats)
    finally:
        for name, m in models.items():
            m.train(modes[name])
    return {
        name: Timing(batch_size, statistics.median(t), repeats, warmup) for name, t in times.items()
    }


def time_model(
    model: StackModel, batch_size: int = 1, warmup: int = 3, repeats: int = 10
) -> Timing:
    """Median forward time of one model on its example input at ``batch_size``."""
    return time_models({"model": model}, batch_size, warmup, repeats)["model"]
