"""The README's quickstart runs as written, CI runs the README's exact test command, and the
README's generated tables, REPORT.md and BENCHMARKS.md are what the committed results render."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from acn.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
RESULTS = ROOT / "docs" / "results"


def test_quickstart_runs(tmp_path, monkeypatch):
    code = re.search(r"## Quickstart\s+```python\n(.*?)```", README, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README quickstart", "exec"), {})
    assert (tmp_path / "small.safetensors").is_file()


def test_ci_runs_the_readme_test_command():
    blocks = re.search(
        r"## Two commands on a fresh machine\s+```bash\n(.*?)```\s+```bash\n(.*?)```", README, re.S
    )
    install, test = blocks.group(1).strip(), blocks.group(2).strip()
    assert install.endswith("acn demo") and "torch==2.13.0" in install
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_and_reports_are_generated_from_the_committed_results(capsys):
    """`acn report --check` on this repository: every committed result shows in the README, and
    the README's blocks, REPORT.md and BENCHMARKS.md are exactly what the JSON renders."""
    code = main(["report", "--out", str(RESULTS), "--readme", str(ROOT / "README.md"), "--check"])
    assert code == 0, capsys.readouterr().err


def copy_of_the_repository(tmp_path: Path) -> tuple[Path, Path]:
    results = tmp_path / "docs" / "results"
    shutil.copytree(RESULTS, results)
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    return results, readme


def check(results: Path, readme: Path) -> int:
    return main(["report", "--out", str(results), "--readme", str(readme), "--check"])


def first_row(text: str, block: str) -> str:
    """The first data row of the generated README block ``block`` (the committed numbers)."""
    body = text[text.index(f"<!-- {block}:begin -->") : text.index(f"<!-- {block}:end -->")]
    return [line for line in body.splitlines() if line.startswith("| ")][2]


def hand_edited(row: str) -> str:
    """``row`` with the number in its second cell changed, as a hand edit would."""
    cells = row.split(" | ")
    cells[1] = "11.11"
    return " | ".join(cells)


def test_a_result_the_readme_does_not_show_fails_the_check(tmp_path, capsys):
    results, readme = copy_of_the_repository(tmp_path)
    data = json.loads((results / "noise.json").read_text())
    (results / "noise-again.json").write_text(json.dumps({**data, "name": "noise-again"}))
    assert check(results, readme) == 1
    assert "reproduce-headline" in capsys.readouterr().err  # its headline row is missing


def test_a_hand_edited_number_or_a_lost_block_fails_the_check(tmp_path, capsys):
    results, readme = copy_of_the_repository(tmp_path)
    text = readme.read_text()
    row = first_row(text, "autocut-table")
    readme.write_text(text.replace(row, hand_edited(row)))
    assert check(results, readme) == 1
    assert "README.md block autocut-table is out of date (autocut.json)" in capsys.readouterr().err
    start, end = "<!-- export-speed:begin -->", "<!-- export-speed:end -->"
    cut = text[: text.index(start)] + text[text.index(end) + len(end) :]
    readme.write_text(cut)
    assert check(results, readme) == 1
    assert (
        "has no <!-- export-speed:begin --> block for export_speed.json" in capsys.readouterr().err
    )
    # writing refuses a README without the block, and writes nothing at all
    report = results / "REPORT.md"
    report.write_text("stale")
    assert main(["report", "--out", str(results), "--readme", str(readme)]) == 2
    assert report.read_text() == "stale" and readme.read_text() == cut


def test_report_rewrites_what_is_stale_and_nothing_else(tmp_path, capsys):
    results, readme = copy_of_the_repository(tmp_path)
    text = readme.read_text()
    row = first_row(text, "demo-seeds")
    readme.write_text(text.replace(row, hand_edited(row)))
    (results / "REPORT.md").write_text("old")
    bench = (results / "BENCHMARKS.md").stat().st_mtime_ns
    assert main(["report", "--out", str(results), "--readme", str(readme)]) == 0
    assert readme.read_text() == text
    assert (results / "REPORT.md").read_text() == (RESULTS / "REPORT.md").read_text()
    assert (results / "BENCHMARKS.md").stat().st_mtime_ns == bench
    assert check(results, readme) == 0
