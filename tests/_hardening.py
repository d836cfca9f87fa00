"""Shared pieces of the hardening tests: a tiny run written through the CLI, and the one-line
error check every bad input must pass (exit code 2, one ``acn: error:`` line, no traceback)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from _train_helpers import TINY_MODEL, tiny_npz
from acn.cli import main


def tiny_run_config(tmp_path: Path, epochs: int = 2) -> Path:
    """YAML config of a tiny run (``epochs`` x 4 steps) writing to tmp_path/run."""
    data = tmp_path / "tiny.npz"
    if not data.exists():
        tiny_npz(data)
    values = {
        "model": {"name": "mixer_s8", "connectivity": "acn", "overrides": TINY_MODEL},
        "data": {"spec": f"npz:{data}"},
        "optim": {"warmup_epochs": 0.5},
        "epochs": epochs,
        "batch_size": 16,
        "eval_batch_size": 16,
        "out_dir": str(tmp_path / "run"),
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def train_cli(*argv: str) -> int:
    return main(["train", *argv, "--no-progress"])


def one_line_error(capsys, argv: list[str], match: str) -> str:
    """Run the CLI, expect exit 2 with exactly one `acn: error:` line matching ``match``."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("acn: error: ") and "\n" not in err, err
    assert "Traceback" not in err
    assert re.search(match, err), err
    return err


def copy_run(src: Path, dst: Path) -> Path:
    """Copy a run directory as it is (the checkpoint pointer stays a symlink)."""
    shutil.copytree(src, dst, symlinks=True)
    return dst
