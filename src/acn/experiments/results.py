"""The one result schema: what ``acn reproduce``, ``acn bench`` and the scripts under
``benchmarks/`` write, and all that ``acn report`` reads.

A result file is one JSON object::

    {"schema": 1, "kind": KIND, "name": NAME, "title": TITLE, "provenance": {...}, ...}

- kind ``experiment`` (``acn reproduce NAME``): scale, seeds, note, claim, rule, quantity,
  verdict, summary, changes, scale_params, summary_numbers, per_seed (each seed ``{"seed",
  "arms", "contrasts", "runs"}``, ``runs`` holding the config digest of every run it read),
  plots, ``history`` (earlier results of the same experiment written to the same place, kept as
  they were: :mod:`.history`), and ``redecided`` once a changed rule re-decided it;
- kind ``bench`` (``acn bench``): scale, seed, shared_machine, items;
- kind ``benchmark`` (a script under ``benchmarks/``): parameters and its measured rows.

``provenance``: the command line, ``git`` (commit and dirty flag of the checkout acn runs from,
None where acn is installed from a package), versions (acn, torch, python and any the writer
adds), the machine, the load average at start and end (1, 5, 15 minutes), the date (UTC) and the
wall time. Files written before this schema (no ``schema`` key) are upgraded when read
(:mod:`.legacy`). :func:`read_result` checks every field a renderer reads (:mod:`.validate`), so a hand-edited
or hostile file is one line naming the field, never a traceback.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from ..errors import DataError
from ..utils import json_safe, machine_info, write_json
from .legacy import check_nothing_lost, upgrade
from .validate import KINDS, SCHEMA, check

__all__ = ["KINDS", "SCHEMA", "Recorder", "check", "envelope", "read_result", "write_result"]

MAX_BYTES = 64 << 20  # a result is kilobytes to a few megabytes; a bigger file is not one
MAX_DEPTH = 48  # nesting of any result acn writes is below 12
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load average (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def git_state(path: Path = PACKAGE_DIR) -> dict[str, Any] | None:
    """Commit and dirty flag of the git checkout holding ``path`` (acn's own source), or None
    where acn does not run from a checkout (a package install) or git is missing."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True,
                              timeout=20, check=False)  # fmt: skip

    try:
        if git("ls-files", "--error-unmatch", "__init__.py").returncode != 0:
            return None  # not tracked here: an installed copy inside some other repository
        head = git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0 or status.returncode != 0:
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}


def versions(**more: str) -> dict[str, str]:
    try:
        acn_version = importlib.metadata.version("acn")
    except importlib.metadata.PackageNotFoundError:
        acn_version = "unknown"
    return {"acn": acn_version, "torch": torch.__version__,
            "python": platform.python_version(), **more}  # fmt: skip


@dataclass
class Recorder:
    """Provenance of one result: started when the work starts, read when it is written."""

    command: str | None
    started: float = field(default_factory=time.perf_counter)
    load_start: list[float] | None = field(default_factory=load_average)
    git: dict[str, Any] | None = field(default_factory=git_state)
    date: str = field(default_factory=now)

    def provenance(
        self,
        device: torch.device | str = "cpu",
        dtype: torch.dtype | None = None,
        **more_versions: str,
    ) -> dict[str, Any]:
        return {
            "command": self.command,
            "git": self.git,
            "versions": versions(**more_versions),
            "machine": machine_info(device, dtype),
            "load_average": {"start": self.load_start, "end": load_average()},
            "date": self.date,
            "wall_time_s": round(time.perf_counter() - self.started, 1),
        }


def envelope(kind: str, name: str, title: str, provenance: dict[str, Any]) -> dict[str, Any]:
    """The fields every result starts with."""
    return {"schema": SCHEMA, "kind": kind, "name": name, "title": title,
            "provenance": provenance}  # fmt: skip


def write_result(path: str | Path, data: dict[str, Any]) -> Path:
    """Check ``data`` as :func:`read_result` would, then write it atomically."""
    data = json_safe(data)
    check(data, str(path))
    write_json(path, data)
    return Path(path)


# -- reading ---------------------------------------------------------------------------------------


def read_json(path: str | Path, what: str = "result") -> Any:
    """A JSON file of bounded size and nesting, or a one-line DataError."""
    p = Path(path)
    try:
        if not p.is_file():
            raise DataError(f"{p}: not a file")
        if p.stat().st_size > MAX_BYTES:
            raise DataError(f"{p}: larger than {MAX_BYTES >> 20} MiB; not a {what} acn wrote")
        text = p.read_bytes().decode("utf-8")
        data = json.loads(text, parse_constant=_no_constant)
    except DataError:
        raise
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except RecursionError:
        raise DataError(f"{p}: nested too deeply; not a {what} acn wrote") from None
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {p}: {e}") from None
    if nesting(data) > MAX_DEPTH:
        raise DataError(f"{p}: nested deeper than {MAX_DEPTH} levels; not a {what} acn wrote")
    return data


def read_result(path: str | Path) -> dict[str, Any]:
    """A result file, upgraded to this schema and checked field by field (one-line DataError)."""
    data = read_json(path)
    if isinstance(data, dict) and "schema" not in data:
        try:
            data = upgrade(data)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise DataError(f"{path}: not a result acn wrote ({type(e).__name__}: {e})") from None
    check(data, str(path))
    return data


def is_result(path: str | Path) -> bool:
    """Whether a JSON file is meant as a result (an object with a known kind, or an older
    result); other JSON files in a results directory (plans, notes) are not read."""
    try:
        data = read_json(path)
    except DataError:
        return True  # unreadable: read_result will say why
    if not isinstance(data, dict):
        return False
    return (
        data.get("kind") in KINDS
        or "schema" in data
        or any(k in data for k in ("experiment", "benchmark", "items"))
    )


def nesting(value: Any) -> int:
    """The nesting depth of plain JSON data (iterative: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# -- the committed upgrade command -----------------------------------------------------------------


def upgrade_dir(directory: str | Path, log=print) -> list[Path]:
    """Rewrite the older result files of ``directory`` in this schema (see :mod:`.legacy`);
    each is checked before it is written, and a file that fails is left as it is."""
    done = []
    for path in sorted(Path(directory).glob("*.json")):
        old = read_json(path)
        if not isinstance(old, dict) or "schema" in old:
            continue
        try:
            new = upgrade(old)
            check_nothing_lost(old, new)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise DataError(f"{path}: cannot upgrade ({type(e).__name__}: {e})") from None
        write_result(path, new)
        done.append(path)
        log(f"upgraded {path}")
    return done


def _main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "upgrade":
        print("usage: python -m acn.experiments.results upgrade RESULTS_DIR", file=sys.stderr)
        return 2
    try:
        upgrade_dir(argv[1])
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
