"""The one result schema: what ``acn reproduce``, ``acn bench`` and the scripts under
``benchmarks/`` write, and all that ``acn report`` reads.

A result file is one JSON object::

    {"schema": 1, "kind": KIND, "name": NAME, "title": TITLE, "provenance": {...}, ...}

- kind ``experiment`` (``acn reproduce NAME``): scale, seeds, note, claim, rule, quantity,
  verdict, summary, changes, scale_params, summary_numbers, per_seed (each seed ``{"seed",
  "arms", "contrasts", "runs"}``, ``runs`` holding the config digest of every run it read),
  plots, and ``redecided`` once a changed rule re-decided it;
- kind ``bench`` (``acn bench``): scale, seed, shared_machine, items;
- kind ``benchmark`` (a script under ``benchmarks/``): parameters and its measured rows.

``provenance``: the command line, ``git`` (commit and dirty flag of the checkout acn runs from,
None where acn is installed from a package), versions (acn, torch, python and any the writer
adds), the machine, the load average at start and end (1, 5, 15 minutes), the date (UTC) and the
wall time. Files written before this schema (no ``schema`` key) are upgraded when read
(:mod:`.legacy`). :func:`read_result` checks every field a renderer reads, so a hand-edited or
hostile file is one line naming the field, never a traceback.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import torch

from ..errors import DataError
from ..utils import json_safe, machine_info, write_json
from .legacy import check_nothing_lost, upgrade
from .suite import DIRECTIONS, VERDICTS

SCHEMA = 1
KINDS = ("experiment", "bench", "benchmark")
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


# -- checking --------------------------------------------------------------------------------------


class _Check:
    """Field checks that name the file and the field in one line."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, field_name: str, problem: str) -> DataError:
        return DataError(f"{self.where}: {field_name} {problem}")

    def get(self, data: dict[str, Any], key: str, prefix: str = "") -> Any:
        if key not in data:
            raise self.fail(f"{prefix}{key}", "is missing")
        return data[key]

    def kind(self, value: Any, types: type | tuple[type, ...], name: str, what: str) -> Any:
        if isinstance(value, bool) and bool not in (
            types if isinstance(types, tuple) else (types,)
        ):
            raise self.fail(name, f"must be {what}, got {value!r}")
        if not isinstance(value, types):
            raise self.fail(name, f"must be {what}, got {type(value).__name__}")
        return value

    def text(self, value: Any, name: str) -> str:
        return self.kind(value, str, name, "text")

    def number(self, value: Any, name: str, optional: bool = False) -> float | None:
        if value is None and optional:
            return None
        self.kind(value, (int, float), name, "a number")
        if not math.isfinite(value):
            raise self.fail(name, f"must be finite, got {value}")
        return value

    def mapping(self, value: Any, name: str) -> dict[str, Any]:
        return self.kind(value, dict, name, "a JSON object")

    def listing(self, value: Any, name: str) -> list[Any]:
        return self.kind(value, list, name, "a list")


def check(data: Any, where: str) -> dict[str, Any]:
    """``data`` if it is a result of this schema, else a one-line DataError naming the field."""
    c = _Check(where)
    c.mapping(data, "the file")
    if data.get("schema") != SCHEMA:
        raise c.fail(
            "schema", f"must be {SCHEMA} (a result acn writes), got {data.get('schema')!r}"
        )
    kind = c.get(data, "kind")
    if kind not in KINDS:
        raise c.fail("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    name = c.text(c.get(data, "name"), "name")
    if not name or "/" in name or name.startswith("."):
        raise c.fail("name", f"must be a plain name, got {name!r}")
    c.text(c.get(data, "title"), "title")
    _check_provenance(c, c.mapping(c.get(data, "provenance"), "provenance"))
    {"experiment": _check_experiment, "bench": _check_bench, "benchmark": _check_benchmark}[kind](
        c, data
    )
    return data


def _check_provenance(c: _Check, p: dict[str, Any]) -> None:
    for key in ("command", "date"):
        if p.get(key) is not None:
            c.text(p[key], f"provenance.{key}")
    if p.get("git") is not None:
        git = c.mapping(p["git"], "provenance.git")
        c.text(c.get(git, "commit", "provenance.git."), "provenance.git.commit")
        c.kind(c.get(git, "dirty", "provenance.git."), bool, "provenance.git.dirty", "true/false")
    for key, value in c.mapping(p.get("versions", {}), "provenance.versions").items():
        c.text(value, f"provenance.versions.{key}")
    c.mapping(c.get(p, "machine", "provenance."), "provenance.machine")
    c.number(p.get("wall_time_s"), "provenance.wall_time_s", optional=True)
    load = c.mapping(p.get("load_average") or {}, "provenance.load_average")
    for key in ("start", "end"):
        if load.get(key) is not None:
            for i, v in enumerate(c.listing(load[key], f"provenance.load_average.{key}")):
                c.number(v, f"provenance.load_average.{key}[{i}]")


def check_rule(c: _Check, rule: Any, name: str) -> None:
    rule = c.mapping(rule, name)
    c.text(c.get(rule, "quantity", name + "."), f"{name}.quantity")
    if c.get(rule, "direction", name + ".") not in DIRECTIONS:
        raise c.fail(f"{name}.direction", f"must be one of {', '.join(DIRECTIONS)}")
    c.number(c.get(rule, "threshold", name + "."), f"{name}.threshold")
    c.text(rule.get("describe", ""), f"{name}.describe")
    for i, part in enumerate(c.listing(rule.get("also", []), f"{name}.also")):
        check_rule(c, part, f"{name}.also[{i}]")


def check_interval(c: _Check, stats: Any, name: str) -> None:
    if stats is None:
        return
    stats = c.mapping(stats, name)
    n = c.kind(c.get(stats, "n", name + "."), int, f"{name}.n", "a whole number")
    if n < 1:
        raise c.fail(f"{name}.n", f"must be >= 1, got {n}")
    c.number(c.get(stats, "mean", name + "."), f"{name}.mean")
    c.number(stats.get("std"), f"{name}.std", optional=True)
    ci = c.listing(stats.get("ci95", [None, None]), f"{name}.ci95")
    if len(ci) != 2:
        raise c.fail(f"{name}.ci95", f"must hold two numbers, got {len(ci)}")
    for i, v in enumerate(ci):
        c.number(v, f"{name}.ci95[{i}]", optional=True)


def check_per_seed(c: _Check, per_seed: Any) -> list[dict[str, Any]]:
    """The per-seed shape every experiment writes (see the module docstring)."""
    seen = set()
    for i, row in enumerate(c.listing(per_seed, "per_seed")):
        name = f"per_seed[{i}]"
        c.mapping(row, name)
        seed = c.kind(c.get(row, "seed", name + "."), int, f"{name}.seed", "a whole number")
        if seed in seen:
            raise c.fail(f"{name}.seed", f"repeats seed {seed}")
        seen.add(seed)
        for arm, numbers in c.mapping(c.get(row, "arms", name + "."), f"{name}.arms").items():
            c.mapping(numbers, f"{name}.arms.{arm}")
        c.mapping(c.get(row, "contrasts", name + "."), f"{name}.contrasts")
        for key, digest in c.mapping(row.get("runs", {}), f"{name}.runs").items():
            c.text(digest, f"{name}.runs.{key}")
    return per_seed


def _check_experiment(c: _Check, d: dict[str, Any]) -> None:
    c.text(c.get(d, "scale"), "scale")
    for i, seed in enumerate(c.listing(c.get(d, "seeds"), "seeds")):
        c.kind(seed, int, f"seeds[{i}]", "a whole number")
    claim = c.mapping(c.get(d, "claim"), "claim")
    for key in ("text", "paper"):
        c.text(c.get(claim, key, "claim."), f"claim.{key}")
    check_rule(c, c.get(d, "rule"), "rule")
    check_interval(c, d.get("quantity"), "quantity")
    if c.get(d, "verdict") not in VERDICTS:
        raise c.fail("verdict", f"must be one of {', '.join(VERDICTS)}, got {d['verdict']!r}")
    for key in ("summary", "changes"):
        c.text(c.get(d, key), key)
    c.text(d.get("note", ""), "note")
    c.mapping(c.get(d, "summary_numbers"), "summary_numbers")
    check_per_seed(c, c.get(d, "per_seed"))
    for i, plot in enumerate(c.listing(d.get("plots", []), "plots")):
        c.text(plot, f"plots[{i}]")
        parts = PurePosixPath(plot).parts
        if not parts or PurePosixPath(plot).is_absolute() or ".." in parts:
            raise c.fail(f"plots[{i}]", f"must be a path inside the results directory: {plot!r}")
    for i, change in enumerate(c.listing(d.get("redecided", []), "redecided")):
        name = f"redecided[{i}]"
        c.mapping(change, name)
        c.text(c.get(change, "date", name + "."), f"{name}.date")
        previous = change.get("previous_verdict")
        if previous is not None and previous not in VERDICTS:
            raise c.fail(f"{name}.previous_verdict", f"must be a verdict, got {previous!r}")


ITEM_KEYS = ("status", "goal", "value", "met", "summary", "rows", "notes", "wall_s")


def check_item(c: _Check, item: Any, name: str) -> None:
    """One ``acn bench`` item."""
    item = c.mapping(item, name)
    if c.get(item, "status", name + ".") not in ("ok", "skipped"):
        raise c.fail(f"{name}.status", "must be ok or skipped")
    if item.get("goal") is not None:
        c.text(item["goal"], f"{name}.goal")
    c.number(item.get("value"), f"{name}.value", optional=True)
    if item.get("met") not in (True, False, None):
        raise c.fail(f"{name}.met", "must be true, false or null")
    c.text(c.get(item, "summary", name + "."), f"{name}.summary")
    for i, row in enumerate(c.listing(c.get(item, "rows", name + "."), f"{name}.rows")):
        c.mapping(row, f"{name}.rows[{i}]")
    for i, note in enumerate(c.listing(c.get(item, "notes", name + "."), f"{name}.notes")):
        c.text(note, f"{name}.notes[{i}]")
    c.number(c.get(item, "wall_s", name + "."), f"{name}.wall_s")
    for key in ("scale", "date"):
        c.text(c.get(item, key, name + "."), f"{name}.{key}")
    for i, v in enumerate(c.listing(item.get("load", []), f"{name}.load")):
        c.number(v, f"{name}.load[{i}]")
    profile = item.get("profile")
    if profile is not None:
        for model, shares in c.mapping(profile, f"{name}.profile").items():
            for group, share in c.mapping(shares, f"{name}.profile.{model}").items():
                c.number(share, f"{name}.profile.{model}.{group}")


def _check_bench(c: _Check, d: dict[str, Any]) -> None:
    c.text(c.get(d, "scale"), "scale")
    c.kind(c.get(d, "seed"), int, "seed", "a whole number")
    c.kind(c.get(d, "shared_machine"), bool, "shared_machine", "true/false")
    for name, item in c.mapping(c.get(d, "items"), "items").items():
        check_item(c, item, f"items.{name}")


def _check_benchmark(c: _Check, d: dict[str, Any]) -> None:
    c.mapping(c.get(d, "parameters"), "parameters")
    for key in ("parity", "timing"):
        for i, row in enumerate(c.listing(d.get(key, []), key)):
            c.mapping(row, f"{key}[{i}]")


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
