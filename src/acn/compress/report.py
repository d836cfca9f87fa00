"""Plain-text rendering of cost reports (units and tables come from :mod:`acn.utils`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..utils import machine_line, mib, si


def wiring_share(c: dict[str, Any]) -> str:
    """The wiring's parameters and their share of the model's (reports from before the field
    existed have none: "-")."""
    n = c.get("wiring_params")
    if n is None:
        return "-"
    return f"{n:,} ({100 * n / c['params']:.3f}%)" if c["params"] else f"{n:,}"


def cost_rows(c: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines of one ``acn.cost`` report."""
    b = c["flops_breakdown"]
    rows = [
        ("params", f"{c['params']:,} ({si(c['params'])})"),
        ("  of the wiring", wiring_share(c)),
        ("param bytes", mib(c["param_bytes"])),
        ("size on disk", f"{mib(c['size_bytes'])} ({c['size_bytes']:,} B)"),
        ("FLOPs (2 x MACs)", f"{si(c['flops'])} ({c['flops']:,})"),
        ("MACs", si(c["macs"])),
        ("FLOPs w/o attention", f"{si(c['flops_no_attention'])}  (paper Table 6 convention)"),
        ("  linear/matmul", si(b["matmul"])),
        ("  attention", si(b["attention"])),
        ("  other", si(b["other"])),
    ]
    if "flops_per_token" in c:
        rows.append((f"FLOPs per token ({c['tokens']}-token input)", si(c["flops_per_token"])))
    if "speed" in c:
        s = c["speed"]
        rows += [
            (f"latency @ batch {s['latency_batch']}", f"{s['latency_ms']:.3g} ms (median)"),
            (f"throughput @ batch {s['throughput_batch']}", f"{s['throughput']:.4g} samples/s"),
        ]
    return rows


def format_cost(c: dict[str, Any]) -> str:
    """The full text of ``acn cost``."""
    head = (
        f"{c['model'] or '(model)'}: {c['family']}, {c['connectivity']}, depth {c['depth']}, "
        f"input {c['input_shape']} {c['dtype']}"
    )
    rows = cost_rows(c)
    width = max(len(label) for label, _ in rows)
    lines = [head] + [f"  {label.ljust(width)}  {value}" for label, value in rows]
    per_depth = ", ".join(si(f) for f in c["flops_per_depth"])
    lines.append(f"FLOPs of the model truncated at depth 0..{c['depth']}: {per_depth}")
    if "machine" in c:
        lines.append(f"measured on {machine_line(c['machine'])}")
    return "\n".join(lines)


# (label, key, formatter) of the rows of the before/after table of `acn compress`
COMPARISON: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("accuracy (%)", "accuracy", lambda v: f"{v:.2f}"),
    ("depth (blocks)", "depth", str),
    ("params", "params", lambda v: f"{v:,}"),
    ("FLOPs", "flops", si),
    ("FLOPs w/o attention", "flops_no_attention", si),
    ("size on disk", "size_bytes", mib),
    ("latency @ batch {latency_batch} (ms)", "latency_ms", lambda v: f"{v:.3g}"),
    ("throughput @ batch {throughput_batch} (/s)", "throughput", lambda v: f"{v:.4g}"),
)


def comparison_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(quantity, before, after, change) rows of a compression report; change is after/before
    (the difference in points for accuracy)."""
    before, after = report["before"], report["after"]
    rows = []
    for label, key, fmt in COMPARISON:
        if key not in before:
            continue
        b, a = before[key], after[key]
        change = f"{a - b:+.2f}" if key == "accuracy" else (f"{a / b:.3f}x" if b else "-")
        rows.append((label.format(**before), fmt(b), fmt(a), change))
    return rows
