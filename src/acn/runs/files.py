"""The files of a run directory besides the checkpoint: ``metrics.jsonl`` and ``summary.json``.

``metrics.jsonl`` has one JSON record per evaluation (see :func:`acn.train.loop.Trainer.evaluate`
for the keys). On resume, records newer than the checkpoint (written after it by the interrupted
run) are dropped, so the file reads as if the run had never stopped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import CheckpointError
from ..utils import atomic_write, read_text, write_json

METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"


MAX_METRICS_BYTES = 256 << 20  # a record is a few kB: 10^4 evaluations are tens of MB


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """All records of a run's ``metrics.jsonl`` (a torn last line from a crash is skipped); the
    file reader behind :meth:`acn.runs.Run.metrics`, which everything else reads runs through."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    records = []
    lines = read_text(path, "metrics file", MAX_METRICS_BYTES, CheckpointError).splitlines()
    for i, line in enumerate(lines):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            if i == len(lines) - 1:
                break  # torn final line: the process died while appending it
            raise CheckpointError(f"corrupt line {i + 1} in {path}") from None
        if not isinstance(record, dict):
            raise CheckpointError(f"line {i + 1} in {path} is not a JSON object (not acn metrics)")
        records.append(record)
    return records


def _unwritable(path: Path, error: OSError) -> CheckpointError:
    """A full disk or lost permissions, as one line (the checkpoint is written separately)."""
    return CheckpointError(f"cannot write {path}: {error.strerror or error}")


def write_summary(run_dir: str | Path, summary: dict[str, Any]) -> None:
    path = Path(run_dir) / SUMMARY_FILE
    try:
        write_json(path, summary)
    except OSError as e:
        raise _unwritable(path, e) from None


class MetricsLog:
    """Appends one JSON line per evaluation to ``RUN/metrics.jsonl``."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / METRICS_FILE

    def append(self, record: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as e:  # a torn last line is skipped by read_metrics
            raise _unwritable(self.path, e) from None

    def keep_until(self, step: int) -> None:
        """Drop the records logged after optimizer step ``step`` (atomic rewrite)."""
        kept = [r for r in read_metrics(self.path.parent) if r.get("step", 0) <= step]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        try:
            atomic_write(self.path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        except OSError as e:
            raise _unwritable(self.path, e) from None
