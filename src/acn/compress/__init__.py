"""Cost, compression and pruning of trained models.

- :func:`cost`: parameters, FLOPs (per op category and per depth), file size, optionally speed.
- :mod:`acn.compress.flops`: ``FlopCounterMode`` counting with CPU attention, ``flops_per_depth``.
- :mod:`acn.compress.analytic`: closed-form FLOPs per block family (the cross-check).
- :mod:`acn.compress.latency`: median latency / throughput and the machine they ran on.
"""

from ..utils import machine_info
from .cost import cost
from .flops import DepthFlops, FlopCount, count_flops, depth_flops, flops_per_depth
from .latency import Timing, time_interleaved, time_model, time_models

__all__ = [
    "DepthFlops",
    "FlopCount",
    "Timing",
    "cost",
    "count_flops",
    "depth_flops",
    "flops_per_depth",
    "machine_info",
    "time_interleaved",
    "time_model",
    "time_models",
]
