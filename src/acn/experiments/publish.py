"""Everything generated from a results directory: ``acn report``.

From the result files of one directory (:mod:`.results`) and nothing else it renders

- ``REPORT.md``, one section per experiment result (:mod:`.report`);
- ``BENCHMARKS.md``, from ``acn bench``'s result (:mod:`.bench.report`);
- with a README, every generated block between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``:
  the headline table of all experiments (``reproduce-headline``), the tables an experiment
  declares (``Experiment.readme``), ``acn bench``'s summary (``bench-summary``) and the table of
  each benchmark script (``export-speed``).

Every result must appear in the README: a result whose block the README lacks fails, and so does
a block whose text is not what its result renders, so the README, REPORT.md and the JSON cannot
drift apart (``acn report --check`` says which, and writes nothing). The README is checked for
all its blocks before anything is written. A block the README has for an experiment acn knows
but that has no result in the directory yet holds one line saying so (:func:`pending`), so the
README can carry the block before the experiment has run. An experiment's blocks named in ``Experiment.report``
also show in its REPORT.md section.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..utils import atomic_write
from .bench.export_speed import readme_table as export_speed_table
from .bench.report import BENCH_BLOCK, render_markdown, summary_body
from .blocks import begin, block_names, find_block, marked, read_readme, replace_blocks
from .catalog import experiments
from .report import REPORT_FILE, headline_table, render_report
from .results import is_result, read_result

BENCH_FILE = "BENCHMARKS.md"
HEADLINE_BLOCK = "reproduce-headline"
# tables of the scripts under benchmarks/ (kind "benchmark"), by result name
BENCHMARK_BLOCKS: dict[str, dict[str, Callable[[dict[str, Any]], str]]] = {
    "export_speed": {"export-speed": export_speed_table},
}


@dataclass
class Published:
    """What ``acn report`` found: files it wrote or would write, and what is stale."""

    results: list[Path] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)


def load_all(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every result in ``directory`` (other JSON files, e.g. notes, are not results)."""
    if not directory.is_dir():
        raise DataError(f"results directory not found: {directory}")
    found = [(p, read_result(p)) for p in sorted(directory.glob("*.json")) if is_result(p)]
    registry = experiments()
    for _, r in found:
        # a result written before claims had a kind: the kind its experiment declares (which
        # table it shows in; no number is read from the code)
        if r["kind"] == "experiment" and "kind" not in r["claim"] and r["name"] in registry:
            r["claim"]["kind"] = registry[r["name"]].claim.kind
    return found


def documents(results: list[tuple[Path, dict[str, Any]]], directory: Path) -> dict[Path, str]:
    """REPORT.md (always) and BENCHMARKS.md (with a bench result)."""
    registry = experiments()
    tables: dict[str, list[str]] = {}
    for path, r in results:
        exp = registry.get(r["name"]) if r["kind"] == "experiment" else None
        if exp is not None and exp.report:
            tables[r["name"]] = [_render(exp.readme[b], r, path, b) for b in exp.report]
    runs = [r for _, r in results if r["kind"] == "experiment"]
    docs = {directory / REPORT_FILE: render_report(runs, tables)}
    for _, r in results:
        if r["kind"] == "bench":
            docs[directory / BENCH_FILE] = render_markdown(r)
    return docs


def readme_blocks(
    results: list[tuple[Path, dict[str, Any]]], directory: Path, readme: Path
) -> dict[str, tuple[str, list[Path]]]:
    """Block name -> (its body, the result files it shows); every result shows in one."""
    registry = experiments()
    blocks: dict[str, tuple[str, list[Path]]] = {}
    runs = [(p, r) for p, r in results if r["kind"] == "experiment"]
    if runs:
        link = Path(os.path.relpath(directory / REPORT_FILE, readme.parent)).as_posix()
        blocks[HEADLINE_BLOCK] = (headline_table([r for _, r in runs], link), [p for p, _ in runs])
    for path, r in results:
        if r["kind"] == "experiment" and r["name"] in registry:
            renderers = registry[r["name"]].readme
        elif r["kind"] == "bench":
            renderers = {BENCH_BLOCK: summary_body}
        elif r["kind"] == "benchmark":
            renderers = BENCHMARK_BLOCKS.get(r["name"], {})
            if not renderers:
                raise DataError(f"{path}: no README block renders benchmark {r['name']!r}")
        else:
            continue  # an experiment acn does not know: its headline row is all it shows
        for name, render in renderers.items():
            blocks[name] = (_render(render, r, path, name), [path])
    shown = {r["name"] for _, r in runs}
    for exp in registry.values():
        if exp.name not in shown:
            for name in exp.readme:
                blocks.setdefault(name, (pending(exp.name), []))
    return blocks


def pending(name: str) -> str:
    """The body of a README block whose experiment has no result in the directory yet."""
    return (
        f"_No result yet: `acn reproduce {name}` writes it, and `acn report --readme` renders "
        "this block from it._"
    )


def _render(render: Callable[[dict[str, Any]], str], result: dict[str, Any], path: Path,
            name: str) -> str:  # fmt: skip
    try:
        return render(result)
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError) as e:
        raise DataError(
            f"{path}: cannot render README block {name} ({type(e).__name__}: {e})"
        ) from None


def publish(directory: Path, readme: Path | None = None, check: bool = False) -> Published:
    """Render the documents (and the README's blocks); write them, or with ``check`` only say
    what is stale. Everything is rendered and checked before the first file is written."""
    directory = Path(directory)
    results = load_all(directory)
    out = Published(results=[p for p, _ in results])
    wanted = documents(results, directory)
    if readme is not None:
        blocks = readme_blocks(results, directory, readme)
        text = read_readme(readme)
        missing = [  # a pending block (no result yet) may be absent
            f"{readme} has no {begin(name)} block for {', '.join(p.name for p in paths)}"
            for name, (_, paths) in blocks.items()
            if paths and _span(text, name, readme) is None
        ]
        if missing and not check:
            raise DataError(missing[0])
        orphans = [f"{readme} block {n} has no result in {directory}"
                   for n in block_names(text) if n not in blocks]  # fmt: skip
        out.stale += missing + (orphans if check else [])
        present = {n: body for n, (body, _) in blocks.items() if _span(text, n, readme)}
        for name, body in present.items():
            span = _span(text, name, readme)
            if check and span is not None and text[span[0] : span[1]] != marked(name, body):
                shown = ", ".join(p.name for p in blocks[name][1]) or "no result yet"
                out.stale.append(f"{readme} block {name} is out of date ({shown})")
        wanted[readme] = replace_blocks(text, present, str(readme))
    for path, text in wanted.items():
        if _current(path) != text:
            if check:
                if path != readme:  # the README's blocks were named above
                    out.stale.append(f"{path} is out of date")
            else:
                atomic_write(path, lambda tmp, t=text: Path(tmp).write_text(t, encoding="utf-8"))
                out.written.append(path)
    return out


def _span(text: str, name: str, readme: Path) -> tuple[int, int] | None:
    try:
        return find_block(text, name)
    except DataError as e:
        raise DataError(f"{readme}: {e}") from None


def _current(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
