"""Side-by-side timing: warm-up, interleaved repeats, medians and the spread of per-round ratios.

Every comparison in ``acn bench`` runs its contenders round-robin in ONE process, alternating
which goes first, so that load from other processes and clock changes hit both alike. A ratio is
reported as the median of the per-round ratios with their 25th-75th percentile range, which says
how much machine noise the median carries.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass
class Spread:
    """Median and 25th / 75th percentiles of a sample (of seconds, or of ratios)."""

    median: float
    p25: float
    p75: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        if len(values) < 2:
            v = values[0]
            return cls(v, v, v, len(values))
        q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return cls(q2, q1, q3, len(values))

    def to_dict(self, digits: int = 4) -> dict[str, float | int]:
        return {
            "median": round(self.median, digits),
            "p25": round(self.p25, digits),
            "p75": round(self.p75, digits),
            "n": self.n,
        }

    def text(self, fmt: str = "{:.3f}") -> str:
        return f"{fmt.format(self.median)} ({fmt.format(self.p25)}-{fmt.format(self.p75)})"


def _sync(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def interleave(
    fns: dict[str, Callable[[], object]],
    warmup: int,
    repeats: int,
    device: torch.device | None = None,
) -> dict[str, list[float]]:
    """Seconds of each call of each function: ``warmup`` untimed rounds, then ``repeats`` timed
    rounds, the order reversed every other round. Autograd stays on (training steps)."""
    order = list(fns)
    for _ in range(warmup):
        for name in order:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(repeats):
        for name in order if r % 2 == 0 else order[::-1]:
            _sync(device)
            start = time.perf_counter()
            fns[name]()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return times


def ratio(times: dict[str, list[float]], num: str, den: str) -> Spread:
    """Spread of the per-round ratios times[num] / times[den]."""
    return Spread.of([a / b for a, b in zip(times[num], times[den])])


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1e3
