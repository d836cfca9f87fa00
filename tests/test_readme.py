"""The README's quickstart runs as written, and CI runs the README's exact test command."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from acn.experiments import autocut, early_exit

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


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


def _load_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tables():
    export_speed = _load_script(ROOT / "benchmarks" / "export_speed.py").readme_table
    return [
        ("autocut.json", autocut.readme_table),
        ("early-exit.json", early_exit.readme_table),
        ("export_speed.json", export_speed),
    ]


@pytest.mark.parametrize("name, table", _tables(), ids=lambda v: v if isinstance(v, str) else "")
def test_readme_tables_are_generated_from_the_committed_results(name, table):
    result = json.loads((ROOT / "docs" / "results" / name).read_text())
    assert table(result) in README, f"README table of docs/results/{name} is out of date"
