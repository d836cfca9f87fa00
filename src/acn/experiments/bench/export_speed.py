"""The README's table of ``benchmarks/export_speed.py``'s result (ONNX Runtime vs eager PyTorch,
the full residual model and the cut ACN): generated from the JSON, never typed."""

from __future__ import annotations

from typing import Any

RUNTIMES = {"eager": "eager", "onnxruntime": "ONNX Runtime"}


def readme_table(result: dict[str, Any]) -> str:
    """One row per (model, runtime): batch-1 latency and batch-N throughput, and both against
    eager PyTorch on the full residual model."""
    batch = result["parameters"]["batch"]
    lines = [
        f"| model, runtime | batch-1 latency (ms) | vs eager residual | batch-{batch} throughput "
        "(samples/s) | vs eager residual |",
        "|---|---|---|---|---|",
    ]
    for r in result["timing"]:
        lines.append(
            f"| {r['model']}, {RUNTIMES[r['runtime']]} | {r['latency_ms']:.2f} "
            f"| {r['latency_speedup']:.2f}x | {r['throughput']:,.0f} "
            f"| {r['throughput_speedup']:.2f}x |"
        )
    return "\n".join(lines)
