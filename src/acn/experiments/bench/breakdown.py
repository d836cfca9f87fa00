"""Where a training step's time goes: torch.profiler self-times grouped by kind of work.

Every op's SELF time is counted once, in the first matching group: anything inside the
``data`` region (batch assembly) is data; anything inside the ``optimizer`` region or
``Optimizer.step`` (gradient norm, clipping, AdamW) is optimizer; the rest by the op's name:
matrix products (linear, matmul, convolution, attention), norms, activations (softmax too; ReLU
runs as clamp_min) and other ops (adds, copies, the loss, embeddings, views). "Python / framework" is the wall time of
the profiled steps minus all op self-times: interpreter, autograd bookkeeping, dispatch and the
profiler's own overhead (so it is an upper bound).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from torch.profiler import ProfilerActivity, profile

from .steps import OPTIMIZER_REGION

DATA_REGION = "data"
GROUPS = ("matmuls", "norms", "activations", "other ops", "optimizer", "data", "Python / framework")
_MATMUL = ("mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "conv", "attention", "addmv")
_NORM = ("layer_norm", "batch_norm", "group_norm", "rms_norm")
_ACT = ("gelu", "relu", "clamp_min", "threshold_backward", "softmax", "tanh", "sigmoid", "silu")


def _by_name(name: str) -> str:
    op = name.removeprefix("aten::").lower()
    if any(k in op for k in _NORM):
        return "norms"
    if any(k in op for k in _ACT):
        return "activations"
    if any(
        op == k or op.startswith(k) or (k in ("conv", "attention") and k in op) for k in _MATMUL
    ):
        return "matmuls"
    return "other ops"


def _group(event) -> str:
    node = event
    while node is not None:
        if node.name == DATA_REGION:
            return "data"
        if node.name == OPTIMIZER_REGION or node.name.startswith("Optimizer."):
            return "optimizer"
        node = node.cpu_parent
    return _by_name(event.name)


def profile_step(step: Callable[[], None], steps: int) -> dict[str, float]:
    """Share (0..1) of the wall time of ``steps`` calls of ``step`` spent in each group."""
    step()  # warm
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        wall_us = (time.perf_counter() - start) * 1e6
    spent = dict.fromkeys(GROUPS, 0.0)
    for event in prof.events():
        spent[_group(event)] += event.self_cpu_time_total
    accounted = sum(spent.values())
    spent["Python / framework"] = max(wall_us - accounted, 0.0)
    total = max(wall_us, accounted)
    return {group: round(us / total, 4) for group, us in spent.items()}
