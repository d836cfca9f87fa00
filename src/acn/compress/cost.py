"""``acn.cost(model)``: what a model costs - parameters, FLOPs, bytes on disk, optionally speed.

Every number is measured, not derived from a config: FLOPs by counting one forward pass on
``model.example_input(batch_size)`` (see :mod:`acn.compress.flops` for the conventions), the size
by really writing the model file, latency by timing forwards (see :mod:`acn.compress.latency`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..models.base import StackModel
from ..serialization import save
from ..utils import machine_info
from .flops import depth_flops, model_input
from .latency import time_models


def param_bytes(model: StackModel) -> int:
    """Bytes of the distinct parameters (tied weights once) in their current dtype."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def wiring_params(model: StackModel) -> int:
    """Parameters the connectivity itself adds (DenseFormer and DenseNet weights, the joins of
    hacn, hyper-connections and LAuReL): the model's parameter overhead over its residual twin."""
    seen = {id(p): p for m in model.stack.wiring_modules() for p in m.parameters()}
    return sum(p.numel() for p in seen.values())


def file_size(model: StackModel) -> int:
    """Bytes of the model's safetensors file, written for real to a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="acn-size-") as tmp:
        return save(model, Path(tmp) / "model.safetensors").stat().st_size


def speeds(
    models: dict[str, StackModel],
    latency_batch: int = 1,
    throughput_batch: int = 256,
    warmup: int = 3,
    repeats: int = 10,
) -> dict[str, dict[str, Any]]:
    """Median latency (ms) at ``latency_batch`` and throughput (samples/s) at
    ``throughput_batch`` of each model, the models timed interleaved with each other."""
    lat = time_models(models, latency_batch, warmup, repeats)
    thr = time_models(models, throughput_batch, warmup, repeats)
    return {
        name: {
            "latency_ms": lat[name].median_s * 1e3,
            "latency_batch": latency_batch,
            "throughput": thr[name].samples_per_s,
            "throughput_batch": throughput_batch,
            "warmup": warmup,
            "repeats": repeats,
        }
        for name in models
    }


def cost(
    model: StackModel,
    batch_size: int = 1,
    *,
    timing: bool = False,
    throughput_batch: int = 256,
    warmup: int = 3,
    repeats: int = 10,
) -> dict[str, Any]:
    """The cost of ``model`` as a plain (JSON-ready) mapping.

    Keys: ``params`` (distinct), ``wiring_params`` (those the connectivity adds), ``param_bytes``, ``size_bytes`` (model file on disk), ``flops``
    (= 2 x ``macs``, attention included), ``flops_no_attention`` (the paper's Table 6 convention),
    ``flops_breakdown`` (matmul / attention / other), ``flops_per_depth`` (the model truncated at
    k = 0..L), for token models ``tokens`` (per sample) and ``flops_per_token``, plus what was measured (``batch_size``, ``input_shape``, ``dtype``, ``device``).
    With ``timing=True`` also ``speed`` (latency at batch 1, throughput at ``throughput_batch``)
    and ``machine``.
    """
    x = model_input(model, batch_size)
    per_stage = depth_flops(model, x=x)
    full = per_stage.full
    ref = next(model.parameters())
    out: dict[str, Any] = {
        "model": model.config.name,
        "family": model.family,
        "connectivity": model.config.connectivity,
        "depth": model.depth,
        "params": model.num_params(),
        "wiring_params": wiring_params(model),
        "param_bytes": param_bytes(model),
        "size_bytes": file_size(model),
        "batch_size": int(x.shape[0]),
        "input_shape": list(x.shape),
        "dtype": str(ref.dtype).removeprefix("torch."),
        "device": str(ref.device),
        "flops": full.total,
        "macs": full.macs,
        "flops_no_attention": full.without_attention,
        "flops_breakdown": full.breakdown(),
        "flops_per_depth": per_stage.cumulative(),
    }
    if model.predicts_per_token and x.dim() == 2:  # token ids: language models
        out["tokens"] = int(x.shape[1])
        out["flops_per_token"] = full.total / (x.shape[0] * x.shape[1])
    if timing:
        out["speed"] = speeds({"model": model}, 1, throughput_batch, warmup, repeats)["model"]
        out["machine"] = machine_info(ref.device, ref.dtype)
    return out
