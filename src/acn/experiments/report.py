"""``REPORT.md`` rendered from the experiment results of a results directory only.

For each experiment: the paper's claim and number beside ours (mean +- std over seeds, 95 %
interval), the verdict and the rule that decided it, what our setting changes, the aggregate
numbers, the plots, and where, how long and from which code it ran. Nothing is recomputed or
trained here; every field read was checked by :func:`acn.experiments.results.read_result`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPORT_FILE = "REPORT.md"


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


def hardware_line(provenance: dict[str, Any]) -> str:
    """Where a result was computed, in one line."""
    h = provenance.get("machine") or {}
    if not h:
        return "unknown machine"
    where = h.get("gpu") or h.get("cpu", "?")
    load = provenance.get("load_average") or {}
    busy = ""
    if load.get("start") is not None or load.get("end") is not None:
        start, end = (_one_minute(load.get(k)) for k in ("start", "end"))
        busy = f", load average {start} at start / {end} at end"
    return (
        f"{h.get('device')} ({where}, {h.get('cpu_count')} cores, {h.get('torch_threads')} torch "
        f"thread(s)), torch {h.get('torch')}{busy}"
    )


def _one_minute(load: list[float] | None) -> float | None:
    return load[0] if load else None


def code_line(provenance: dict[str, Any]) -> str | None:
    """Which code and command produced a result (None for results from before it was kept)."""
    git, command = provenance.get("git"), provenance.get("command")
    versions = provenance.get("versions") or {}
    if git is None and command is None:
        return None
    where = "no git checkout"
    if git is not None:
        where = f"git {git['commit'][:12]}{' (uncommitted changes)' if git['dirty'] else ''}"
    made = f"`{command}`" if command else "an unrecorded command"
    return f"{made}, acn {versions.get('acn', '?')}, {where}, {provenance.get('date') or '?'}"


def render_experiment(r: dict[str, Any]) -> str:
    rule, provenance = r["rule"], r["provenance"]
    sides = "; ".join(
        f"{part['quantity']} {'>' if part.get('direction') == 'greater' else '<'} "
        f"{part['threshold']:g}"
        for part in (rule, *rule.get("also", []))
    )
    lines = [
        f"## {r['title']} (`{r['name']}`)",
        "",
        f"- **Paper's claim:** {r['claim']['text']}",
        f"- **Paper's number:** {r['claim']['paper']}",
        f"- **Ours** ({r['scale']} scale, seeds {', '.join(map(str, r['seeds']))}): "
        f"{rule['quantity']} = {fmt_stats(r.get('quantity'))}",
        f"- **Verdict: {r['verdict']}** (paper's side: {sides}; {rule.get('describe', '')})",
        f"- **What our setting changes:** {r.get('changes', '')}",
    ]
    wall = provenance.get("wall_time_s")
    lines.append(f"- **Ran on:** {hardware_line(provenance)}; wall time "
                 f"{'?' if wall is None else wall} s")  # fmt: skip
    made = code_line(provenance)
    if made:
        lines.append(f"- **Made by:** {made}")
    if r.get("note"):
        lines.append(f"- **Note:** {r['note']}")
    if rule.get("also"):
        lines.append(f"- **Every part:** {r['summary']}")
    for change in r.get("redecided") or []:
        lines.append(
            f"- **Re-decided** {change['date']} by a changed rule, from the same per-seed numbers "
            f"(`acn reproduce {r['name']} --redecide`); the verdict was "
            f"{change['previous_verdict']}"
        )
    rows = flatten(r.get("summary_numbers") or {})
    if rows:
        lines += ["", "| number | mean +- std over seeds |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in rows]
    for plot in r.get("plots") or []:
        lines += ["", f"![{r['name']}: {Path(plot).stem}]({plot})"]
    return "\n".join(lines)


HEADLINE_HEADER = ("| experiment | scale | paper | ours | verdict |", "|---|---|---|---|---|")


def headline_rows(results: list[dict[str, Any]], link: str = "") -> list[str]:
    """One table row per experiment: the paper's number, ours, the verdict. ``link`` prefixes the
    anchors (the README links into ``docs/results/REPORT.md``)."""
    rows = []
    for r in results:
        ours = f"{r['rule']['quantity']} = {fmt_stats(r.get('quantity'))}"
        rows.append(
            f"| [{r['name']}]({link}#{_anchor(r)}) | {r['scale']} "
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
    heading = f"{r['title']} ({r['name']})".lower()
    kept = "".join(c for c in heading if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def headline_table(results: list[dict[str, Any]], link: str = "") -> str:
    """The headline table (header and one row per experiment), as the README shows it."""
    return "\n".join([*HEADLINE_HEADER, *headline_rows(results, link)])
