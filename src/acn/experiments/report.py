"""``docs/results/REPORT.md`` rendered from the committed ``docs/results/*.json`` only.

For each experiment: the paper's claim and number beside ours (mean +- std over seeds, 95 %
interval), the verdict and the rule that decided it, what our setting changes, the aggregate
numbers, the plots, and where and how long it ran. Nothing is recomputed or trained here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..utils import atomic_write

REPORT_FILE = "REPORT.md"
REQUIRED_KEYS = ("experiment", "title", "scale", "seeds", "verdict", "claim", "rule", "summary")


def load_results(results_dir: Path) -> list[dict[str, Any]]:
    """Every suite result JSON in ``results_dir`` (files without the suite's keys are skipped)."""
    results = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise DataError(f"cannot read {path}: {e}") from None
        if isinstance(data, dict) and all(k in data for k in REQUIRED_KEYS):
            results.append(data)
    return results


def fmt_stats(stats: dict[str, Any] | None, digits: int = 3) -> str:
    """``{"mean", "std", "n", "ci95"}`` -> ``'m +- s (n=3, 95% [lo, hi])'``."""
    if not stats:
        return "n/a"
    text = f"{stats['mean']:.{digits}g}"
    if stats.get("std") is not None:
        text += f" +- {stats['std']:.{digits}g}"
    text += f" (n={stats['n']}"
    low, high = (stats.get("ci95") or [None, None])[:2]
    if low is not None and high is not None:
        text += f", 95% [{low:.{digits}g}, {high:.{digits}g}]"
    return text + ")"


def flatten(numbers: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """(name, text) rows of a summary_numbers mapping; interval dicts become 'm +- s'."""
    rows: list[tuple[str, str]] = []
    for key, value in numbers.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and "mean" in value and "n" in value:
            rows.append((name, fmt_stats(value)))
        elif isinstance(value, dict):
            rows.extend(flatten(value, name + "."))
        elif isinstance(value, float):
            rows.append((name, f"{value:.4g}"))
        elif isinstance(value, (int, str, bool)) or value is None:
            rows.append((name, str(value)))
        elif isinstance(value, list) and len(value) <= 20:
            rows.append((name, ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v)
                                         for v in value)))  # fmt: skip
    return rows


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def hardware_line(h: dict[str, Any]) -> str:
    """Where a result was computed, in one line."""
    if not h:
        return "unknown machine"
    where = h.get("gpu") or h.get("cpu", "?")
    load = h.get("load_average_1min") or {}
    busy = f", load average {load.get('start')} at start / {load.get('end')} at end" if load else ""
    return (
        f"{h.get('device')} ({where}, {h.get('cpu_count')} cores, {h.get('torch_threads')} torch "
        f"thread(s)), torch {h.get('torch')}{busy}"
    )


def render_experiment(r: dict[str, Any]) -> str:
    rule = r["rule"]
    sides = "; ".join(
        f"{part['quantity']} {'>' if part.get('direction') == 'greater' else '<'} "
        f"{part['threshold']:g}"
        for part in (rule, *rule.get("also", []))
    )
    lines = [
        f"## {r['title']} (`{r['experiment']}`)",
        "",
        f"- **Paper's claim:** {r['claim']['text']}",
        f"- **Paper's number:** {r['claim']['paper']}",
        f"- **Ours** ({r['scale']} scale, seeds {', '.join(map(str, r['seeds']))}): "
        f"{rule['quantity']} = {fmt_stats(r.get('quantity'))}",
        f"- **Verdict: {r['verdict']}** (paper's side: {sides}; {rule.get('describe', '')})",
        f"- **What our setting changes:** {r.get('changes', '')}",
    ]
    lines.append(f"- **Ran on:** {hardware_line(r.get('hardware') or {})}; wall time "
                 f"{r.get('wall_time_s', '?')} s")  # fmt: skip
    if r.get("note"):
        lines.append(f"- **Note:** {r['note']}")
    if rule.get("also"):
        lines.append(f"- **Every part:** {r['summary']}")
    for change in r.get("redecided") or []:
        lines.append(
            f"- **Re-decided** {change['date']} by a changed rule, from the same per-seed numbers "
            f"(`acn reproduce {r['experiment']} --redecide`); the verdict was "
            f"{change['previous_verdict']}"
        )
    rows = flatten(r.get("summary_numbers") or {})
    if rows:
        lines += ["", "| number | mean +- std over seeds |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in rows]
    for plot in r.get("plots") or []:
        lines += ["", f"![{r['experiment']}: {Path(plot).stem}]({plot})"]
    return "\n".join(lines)


HEADLINE_HEADER = ("| experiment | scale | paper | ours | verdict |", "|---|---|---|---|---|")


def headline_rows(results: list[dict[str, Any]], link: str = "") -> list[str]:
    """One table row per experiment: the paper's number, ours, the verdict. ``link`` prefixes the
    anchors (the README links into ``docs/results/REPORT.md``)."""
    rows = []
    for r in results:
        ours = f"{r['rule']['quantity']} = {fmt_stats(r.get('quantity'))}"
        rows.append(
            f"| [{r['experiment']}]({link}#{_anchor(r)}) | {r['scale']} "
            f"| {_cell(r['claim']['paper'])} | {_cell(ours)} | **{r['verdict']}** |"
        )
    return rows


def render_report(results: list[dict[str, Any]]) -> str:
    """The whole REPORT.md: a headline table, then one section per experiment."""
    lines = [
        "# Does ACN hold up? Results of `acn reproduce`",
        "",
        "Generated by `acn report` from the JSON files in this directory; do not edit by hand. "
        "Each verdict was decided by the rule the experiment declares in code before running "
        "(95 % t-interval over seeds of a seed-paired quantity; see `acn.experiments.suite`).",
        "",
        *HEADLINE_HEADER,
        *headline_rows(results),
    ]
    if not results:
        lines.append("| (no results yet: run `acn reproduce NAME`) | | | | |")
    for r in results:
        lines += ["", render_experiment(r)]
    return "\n".join(lines) + "\n"


def _anchor(r: dict[str, Any]) -> str:
    """GitHub's anchor of the experiment's heading."""
    heading = f"{r['title']} ({r['experiment']})".lower()
    kept = "".join(c for c in heading if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def write_report(results_dir: Path) -> Path:
    """Render ``results_dir/REPORT.md`` from ``results_dir/*.json``; returns its path."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise DataError(f"results directory not found: {results_dir}")
    text = render_report(load_results(results_dir))
    path = results_dir / REPORT_FILE
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path
