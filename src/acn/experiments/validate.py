"""The fields of a result (:mod:`.results`), checked one by one: a hand-edited or hostile file
is a one-line DataError naming the file and the field, never a traceback in a renderer."""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from typing import Any

from ..errors import DataError
from .suite import CLAIM_KINDS, DIRECTIONS, VERDICTS

SCHEMA = 1
KINDS = ("experiment", "bench", "benchmark")


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
    check_claim(c, c.get(d, "claim"), "claim")
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
    check_redecided(c, d.get("redecided", []), "redecided")
    for i, entry in enumerate(c.listing(d.get("history", []), "history")):
        check_history_entry(c, entry, f"history[{i}]")


def check_claim(c: _Check, claim: Any, name: str) -> None:
    claim = c.mapping(claim, name)
    for key in ("text", "paper"):
        c.text(c.get(claim, key, name + "."), f"{name}.{key}")
    kind = claim.get("kind", "paper")  # results written before kinds were kept: paper claims
    if kind not in CLAIM_KINDS:
        raise c.fail(f"{name}.kind", f"must be one of {', '.join(CLAIM_KINDS)}, got {kind!r}")
    for key in ("figure", "figure_quantity"):
        c.text(claim.get(key, ""), f"{name}.{key}")


def check_redecided(c: _Check, changes: Any, name: str) -> None:
    for i, change in enumerate(c.listing(changes, name)):
        where = f"{name}[{i}]"
        c.mapping(change, where)
        c.text(c.get(change, "date", where + "."), f"{where}.date")
        previous = change.get("previous_verdict")
        if previous is not None and previous not in VERDICTS:
            raise c.fail(f"{where}.previous_verdict", f"must be a verdict, got {previous!r}")


def check_history_entry(c: _Check, entry: Any, name: str) -> None:
    """One earlier result carried in ``history`` (see :mod:`.history`)."""
    entry = c.mapping(entry, name)
    c.text(c.get(entry, "scale", name + "."), f"{name}.scale")
    for i, seed in enumerate(c.listing(c.get(entry, "seeds", name + "."), f"{name}.seeds")):
        c.kind(seed, int, f"{name}.seeds[{i}]", "a whole number")
    check_claim(c, c.get(entry, "claim", name + "."), f"{name}.claim")
    check_rule(c, c.get(entry, "rule", name + "."), f"{name}.rule")
    check_interval(c, entry.get("quantity"), f"{name}.quantity")
    verdict = c.get(entry, "verdict", name + ".")
    if verdict not in VERDICTS:
        raise c.fail(f"{name}.verdict", f"must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    c.text(entry.get("summary", ""), f"{name}.summary")
    for quantity, values in c.mapping(entry.get("values", {}), f"{name}.values").items():
        c.listing(values, f"{name}.values.{quantity}")  # per seed, as the seeds wrote them
    made = c.mapping(entry.get("made", {}), f"{name}.made")
    for key in ("date", "command"):
        if made.get(key) is not None:
            c.text(made[key], f"{name}.made.{key}")
    if made.get("git") is not None:
        git = c.mapping(made["git"], f"{name}.made.git")
        c.text(c.get(git, "commit", f"{name}.made.git."), f"{name}.made.git.commit")
    check_redecided(c, entry.get("redecided", []), f"{name}.redecided")


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
