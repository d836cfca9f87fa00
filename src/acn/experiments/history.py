"""Earlier results of an experiment, kept in the new one: a changed rule never hides an old verdict.

When ``acn reproduce NAME`` writes ``OUT/NAME.json`` over an earlier result, the earlier one is
carried into the new file's ``history`` (oldest first), together with the history it carried
itself. A history entry keeps what a reader needs to see and re-check the old verdict: the scale
and seeds it ran on, its claim, rule, verdict and summary sentence, the per-seed values of every
part of its rule (``values``; the verdict recomputes from them with the old rule), any
re-decision it went through, and where it came from (command, git commit, date).

The new result's own verdict is decided by its own rule on its own seeds only; nothing in the
history is re-decided. An entry is dropped only when it records exactly what the new result
records (the same scale, seeds, claim, rule, verdict and values: a repeat of the same run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DataError
from .results import read_result

# the fields of a result that an entry keeps as they are
KEPT = ("scale", "seeds", "claim", "rule", "quantity", "verdict", "summary")
# the fields two entries are compared on (a repeat of the same run is not history)
SAME_RUN = ("scale", "seeds", "claim", "rule", "verdict", "values")


def rule_values(result: dict[str, Any]) -> dict[str, list[Any]]:
    """Every rule part's quantity -> its value in each seed's contrasts (None where absent)."""
    rule = result.get("rule") or {}
    parts = [rule, *rule.get("also", [])]
    return {
        part["quantity"]: [row.get("contrasts", {}).get(part["quantity"]) for row in
                           result.get("per_seed", [])]
        for part in parts
        if "quantity" in part
    }  # fmt: skip


def entry(result: dict[str, Any]) -> dict[str, Any]:
    """The history entry of one result (see the module docstring)."""
    provenance = result.get("provenance") or {}
    out = {key: result.get(key) for key in KEPT}
    out["values"] = rule_values(result)
    out["made"] = {
        "date": provenance.get("date"),
        "command": provenance.get("command"),
        "git": provenance.get("git"),
    }
    if result.get("redecided"):
        out["redecided"] = result["redecided"]
    return out


def previous(path: Path, name: str) -> dict[str, Any] | None:
    """The result already at ``path`` (None if there is none); a file that is not a result of
    experiment ``name`` is a one-line DataError, raised before anything is trained, so that it is
    never overwritten."""
    if not path.exists():
        return None
    try:
        result = read_result(path)
        if result["kind"] != "experiment" or result["name"] != name:
            raise DataError(f"{path}: a {result['kind']} result named {result['name']!r}")
    except DataError as e:
        reason = str(e).removeprefix(f"{path}: ")
        raise DataError(
            f"{path} is there but is not a result of `acn reproduce {name}` ({reason}); it is "
            "left as it is: move it away or choose another --out"
        ) from None
    return result


def carried(earlier: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    """The history of ``new``: the earlier result's history, then the earlier result itself
    (unless it records exactly what ``new`` records)."""
    if earlier is None:
        return []
    history = list(earlier.get("history") or [])
    last = entry(earlier)
    if {k: last.get(k) for k in SAME_RUN} != {k: entry(new).get(k) for k in SAME_RUN}:
        history.append(last)
    return history
