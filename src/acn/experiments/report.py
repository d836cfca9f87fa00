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


def render_experiment(r: dict[str, Any], tables: list[str] | None = None) -> str:
    """One experiment's section; ``tables`` (Markdown the experiment renders from the same
    result) follow its summary lines."""
    rule, provenance, claim = r["rule"], r["provenance"], r["claim"]
    sides = rule_text(rule)
    what = {"paper": "Paper's claim", "beyond": "Question (beyond the paper)",
            "goal": "acn's goal (not a claim of the paper)"}[claim_kind(r)]  # fmt: skip
    lines = [
        f"## {r['title']} (`{r['name']}`)",
        "",
        f"- **{what}:** {claim['text']}",
        f"- **Paper's number:** {claim['paper']}",
    ]
    if claim.get("figure"):
        lines.append(f"- **The paper's figure it reproduces:** {claim['figure']}")
    lines += [
        f"- **Ours** ({r['scale']} scale, seeds {seeds_text(r['seeds'])}): "
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
    lines += redecided_lines(r["name"], r.get("redecided") or [])
    history = r.get("history") or []
    if history:
        lines.append(
            "- **History** (earlier results of this experiment, kept as they were; the verdict "
            "above is decided on its own seeds only, nothing below is re-decided):"
        )
        lines += [f"  - {history_line(h)}" for h in reversed(history)]
    for text in tables or []:
        lines += ["", text]
    rows = flatten(r.get("summary_numbers") or {})
    if rows:
        lines += ["", "| number | mean +- std over seeds |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in rows]
    for plot in r.get("plots") or []:
        lines += ["", f"![{r['name']}: {Path(plot).stem}]({plot})"]
    return "\n".join(lines)


def redecided_lines(name: str, changes: list[dict[str, Any]]) -> list[str]:
    return [
        f"- **Re-decided** {change['date']} by a changed rule, from the same per-seed numbers "
        f"(`acn reproduce {name} --redecide`); the verdict was {change['previous_verdict']}"
        for change in changes
    ]


def rule_text(rule: dict[str, Any]) -> str:
    """``q > t; q2 < t2``: every part of a rule, as the paper's side."""
    return "; ".join(
        f"{part['quantity']} {'>' if part.get('direction') == 'greater' else '<'} "
        f"{part['threshold']:g}"
        for part in (rule, *rule.get("also", []))
    )


def seeds_text(seeds: list[int]) -> str:
    return ", ".join(map(str, seeds)) if seeds else "none"


def history_line(h: dict[str, Any]) -> str:
    """One earlier result, as it was decided (see :mod:`acn.experiments.history`)."""
    made = h.get("made") or {}
    git = made.get("git")
    where = f", git {git['commit'][:12]}" if git else ""
    when = made.get("date") or "date not recorded"
    again = "".join(f"; re-decided {c['date']}, it was {c['previous_verdict']} before"
                    for c in h.get("redecided") or [])  # fmt: skip
    return (
        f"{when}{where}: {h['scale']} scale, seeds {seeds_text(h['seeds'])}, rule "
        f"`{rule_text(h['rule'])}`: **{h['verdict']}** ({h['rule']['quantity']} = "
        f"{fmt_stats(h.get('quantity'))}){again}"
    )


# the three kinds of claim (suite.CLAIM_KINDS), in the order the report shows them
GROUPS = (
    ("paper", "The paper's claims"),
    ("beyond", "Beyond the paper: questions about the same method"),
    ("goal", "acn's own goals (not claims of the paper)"),
)
HEADLINE_HEADER = ("| experiment | scale | paper | ours | verdict |", "|---|---|---|---|---|")
GOAL_HEADER = (
    "| experiment | scale | acn's goal | ours | verdict | the paper's figure it reproduces "
    "| ours on that figure |",
    "|---|---|---|---|---|---|---|",
)


def claim_kind(r: dict[str, Any]) -> str:
    return r["claim"].get("kind", "paper")


def verdict_cell(r: dict[str, Any]) -> str:
    """The verdict, and the latest earlier verdict when the result carries history."""
    history = r.get("history") or []
    if not history:
        return f"**{r['verdict']}**"
    last = history[-1]
    if last["rule"] != r["rule"]:
        why = "another rule"
    elif last["claim"].get("text") != r["claim"].get("text"):
        why = "another claim"
    elif last["scale"] != r["scale"]:
        why = f"{last['scale']} scale"
    elif last["seeds"] != r["seeds"]:
        why = f"seeds {seeds_text(last['seeds'])}"
    else:
        why = "an earlier run"
    return f"**{r['verdict']}** (earlier, {why}: {last['verdict']})"


def headline_rows(results: list[dict[str, Any]], link: str = "") -> list[str]:
    """One table row per experiment: the paper's number, ours, the verdict. ``link`` prefixes the
    anchors (the README links into ``docs/results/REPORT.md``)."""
    rows = []
    for r in results:
        ours = f"{r['rule']['quantity']} = {fmt_stats(r.get('quantity'))}"
        name = f"[{r['name']}]({link}#{_anchor(r)}) | {r['scale']}"
        if claim_kind(r) == "goal":
            claim = r["claim"]
            figure_quantity = claim.get("figure_quantity", "")
            on_figure = ""
            if figure_quantity:
                stats = (r.get("summary_numbers") or {}).get("contrasts", {}).get(figure_quantity)
                on_figure = f"{figure_quantity} = {fmt_stats(stats)}"
            rows.append(
                f"| {name} | {_cell(claim['text'])} | {_cell(ours)} | {verdict_cell(r)} "
                f"| {_cell(claim.get('figure') or '')} | {_cell(on_figure)} |"
            )
        else:
            rows.append(
                f"| {name} | {_cell(r['claim']['paper'])} | {_cell(ours)} | {verdict_cell(r)} |"
            )
    return rows


def headline_lines(results: list[dict[str, Any]], link: str = "") -> list[str]:
    """One captioned table per kind of claim that has results (the paper's first)."""
    lines: list[str] = []
    for kind, caption in GROUPS:
        group = [r for r in results if claim_kind(r) == kind]
        if not group:
            continue
        header = GOAL_HEADER if kind == "goal" else HEADLINE_HEADER
        lines += ["", f"**{caption}**", ""] if lines else [f"**{caption}**", ""]
        lines += [*header, *headline_rows(group, link)]
    return lines


def render_report(results: list[dict[str, Any]], tables: dict[str, list[str]] | None = None) -> str:
    """The whole REPORT.md: the headline tables, then one section per experiment (with the
    tables ``tables[name]`` it renders, see :func:`render_experiment`)."""
    lines = [
        "# Does ACN hold up? Results of `acn reproduce`",
        "",
        "Generated by `acn report` from the JSON files in this directory; do not edit by hand. "
        "Each verdict was decided by the rule the experiment declares in code before running "
        "(95 % t-interval over seeds of a seed-paired quantity; see `acn.experiments.suite`). "
        "A rule changed after its numbers were seen is judged on seeds never run before; the "
        "earlier verdict stays in the result's history.",
        "",
    ]
    if results:
        lines += headline_lines(results)
    else:
        lines += [*HEADLINE_HEADER, "| (no results yet: run `acn reproduce NAME`) | | | | |"]
    for r in results:
        lines += ["", render_experiment(r, (tables or {}).get(r["name"]))]
    return "\n".join(lines) + "\n"


def _anchor(r: dict[str, Any]) -> str:
    """GitHub's anchor of the experiment's heading."""
    heading = f"{r['title']} ({r['name']})".lower()
    kept = "".join(c for c in heading if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def headline_table(results: list[dict[str, Any]], link: str = "") -> str:
    """The headline tables (one per kind of claim), as the README shows them."""
    return "\n".join(headline_lines(results, link))
