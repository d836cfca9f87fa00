"""The README's quickstart runs as written, and CI runs the README's exact test command."""

from __future__ import annotations

import re
from pathlib import Path

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
