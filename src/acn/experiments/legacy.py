"""Result files written before the result schema (no ``schema`` key), upgraded to it.

The upgrade moves and renames; it never computes a number except the few quantities the new
shape names explicitly that were implicit before (the demo's rule quantity, a copy of the ACN's
cut-FLOPs fraction; autocut's means over settings of the two cost ratios its rule averaged), each
by the very expression the old rule used. ``python -m acn.experiments.results upgrade DIR``
rewrites the old files of a results directory in place after checking, for each, that every
number of the old file is in the new one and that the new one holds no number the old did not
(:func:`check_nothing_lost`).

- experiment results: ``experiment`` -> ``name``; ``hardware``, ``torch`` and ``wall_time_s`` ->
  ``provenance``; each seed's keys -> ``{"seed", "arms", "contrasts", "runs"}`` (below);
- ``acn bench``'s ``benchmarks.json``: ``date``, ``machine``, the load averages and ``wall_s`` ->
  ``provenance``;
- ``benchmarks/export_speed.py``'s file: its parameters -> ``parameters``; ``command``, ``date``,
  ``machine``, ``versions``, ``load_average`` and ``wall_time_s`` -> ``provenance``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

Seed = dict[str, Any]


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (an older result) in the current schema."""
    if "experiment" in data:
        return _experiment(data)
    if "items" in data:
        return _bench(data)
    if "benchmark" in data:
        return _benchmark(data)
    raise ValueError("neither an experiment, an acn bench nor a benchmark result")


def _provenance(machine: dict[str, Any], load_start: Any, load_end: Any, **rest: Any) -> dict:
    return {
        "command": rest.get("command"),
        "git": None,  # not recorded before the schema
        "versions": rest.get("versions") or {},
        "machine": machine,
        "load_average": {"start": load_start, "end": load_end},
        "date": rest.get("date"),
        "wall_time_s": rest.get("wall_time_s"),
    }


def _experiment(old: dict[str, Any]) -> dict[str, Any]:
    d = dict(old)
    name = d.pop("experiment")
    machine = dict(d.pop("hardware", {}) or {})
    load = machine.pop("load_average_1min", None) or {}
    wrap = lambda v: None if v is None else [v]  # noqa: E731 - the 1-minute figure only
    provenance = _provenance(machine, wrap(load.get("start")), wrap(load.get("end")),
                             versions={"torch": d.pop("torch")} if "torch" in d else {},
                             wall_time_s=d.pop("wall_time_s", None))  # fmt: skip
    seeds = [SEEDS[name](dict(s)) for s in d.pop("per_seed")]
    return {"schema": 1, "kind": "experiment", "name": name, "title": d.pop("title"),
            "provenance": provenance, **d, "per_seed": seeds}  # fmt: skip


def _bench(old: dict[str, Any]) -> dict[str, Any]:
    d = dict(old)
    provenance = _provenance(d.pop("machine"), d.pop("load_before"), d.pop("load_after"),
                             date=d.pop("date"), wall_time_s=d.pop("wall_s"),
                             versions={"torch": old["machine"].get("torch")})  # fmt: skip
    return {"schema": 1, "kind": "bench", "name": "benchmarks", "title": "acn bench",
            "provenance": provenance, **d}  # fmt: skip


def _benchmark(old: dict[str, Any]) -> dict[str, Any]:
    d = dict(old)
    name = d.pop("benchmark")
    load = d.pop("load_average", {}) or {}
    provenance = _provenance(d.pop("machine"), load.get("before"), load.get("after"),
                             command=d.pop("command", None), date=d.pop("date", None),
                             versions=d.pop("versions", {}),
                             wall_time_s=d.pop("wall_time_s", None))  # fmt: skip
    parameters = {k: d.pop(k) for k in ("model", "depth", "batch", "repeats", "warmup", "seed",
                                        "threads") if k in d}  # fmt: skip
    return {"schema": 1, "kind": "benchmark", "name": name, "title": TITLES.get(name, name),
            "provenance": provenance, "parameters": parameters, **d}  # fmt: skip


TITLES = {"export_speed": "ONNX Runtime vs eager PyTorch: full residual model and cut ACN"}


# -- each experiment's old seed layout -------------------------------------------------------------


def _flat(
    arms: list[str],
    measures: list[str],
    contrasts: list[str],
    shared: tuple[str, ...] = (),
) -> Callable[[Seed], Seed]:
    """Old flat keys ``{arm}_{measure}`` (arm hyphens as underscores) and contrast keys; the
    ``shared`` keys (the same for every arm) go into every arm."""

    def convert(old: Seed) -> Seed:
        new: Seed = {"seed": old.pop("seed"), "arms": {}, "contrasts": {}, "runs": {}}
        for arm in arms:
            prefix = arm.replace("-", "_") + "_"
            new["arms"][arm] = {m: old.pop(prefix + m) for m in measures if prefix + m in old}
        for key in contrasts:
            new["contrasts"][key] = old.pop(key)
        for key in shared:
            value = old.pop(key)
            for numbers in new["arms"].values():
                numbers[key] = value
        return _done(old, new)

    return convert


def _done(old: Seed, new: Seed) -> Seed:
    if old:
        raise ValueError(f"keys the upgrade does not know: {', '.join(sorted(old))}")
    return new


def _renamed(numbers: dict[str, Any]) -> dict[str, Any]:
    """Run numbers: ``cutoff_depth`` is ``cutoff`` in every arm now."""
    out = dict(numbers)
    if "cutoff_depth" in out:
        out["cutoff"] = out.pop("cutoff_depth")
    return out


def _nested(key: str, contrasts: list[str]) -> Callable[[Seed], Seed]:
    """Old ``{key: {arm: numbers}}`` plus contrast keys."""

    def convert(old: Seed) -> Seed:
        new = {"seed": old.pop("seed"), "arms": {a: _renamed(v) for a, v in old.pop(key).items()},
               "contrasts": {c: old.pop(c) for c in contrasts}, "runs": {}}  # fmt: skip
        return _done(old, new)

    return convert


def _difficulty(old: Seed) -> Seed:
    classes, depth = old.pop("classes"), old.pop("depth")
    arms = {}
    for c in classes:
        for conn in ("residual", "acn"):
            measures = ("accuracy", "cutoff", "epochs", "accuracy_per_depth")
            numbers = {m: old.pop(f"{conn}_{c}_{m}") for m in measures}
            arms[f"{conn}-{c}classes"] = {**numbers, "classes": c, "depth": depth}
    contrasts = {k: old.pop(k) for k in ("acn_cutoff_growth", "residual_cutoff_growth")}
    return _done(old, {"seed": old.pop("seed"), "arms": arms, "contrasts": contrasts, "runs": {}})


def _pruning(old: Seed) -> Seed:
    runs, curves = old.pop("runs"), old.pop("curves")
    arms = {c: {**_renamed(runs[c]), "prune_curve": curves[c]} for c in runs}
    contrasts = {
        "acn_minus_residual_high_sparsity_pt": old.pop("acn_minus_residual_high_sparsity_pt")
    }
    return _done(old, {"seed": old.pop("seed"), "arms": arms, "contrasts": contrasts, "runs": {}})


def _transfer(old: Seed) -> Seed:
    arms = {}
    for name, m in old.pop("models").items():
        arms[f"{name}-upstream"] = {"accuracy": m["upstream_accuracy"],
                                    "cutoff": m["upstream_cutoff_depth"]}  # fmt: skip
        arms[f"{name}-downstream"] = {"accuracy": m["downstream_accuracy"],
                                      "accuracy_per_depth": m["downstream_accuracy_per_depth"],
                                      "cutoff": m["downstream_cutoff_depth"]}  # fmt: skip
    contrasts = {"acn_minus_best_other_pt": old.pop("acn_minus_best_other_pt")}
    return _done(old, {"seed": old.pop("seed"), "arms": arms, "contrasts": contrasts, "runs": {}})


def _alternatives(old: Seed) -> Seed:
    arms = {route: dict(numbers) for route, numbers in old.pop("routes").items()}
    arms["acn-cut"]["depth"] = old.pop("cutoff_depth")
    arms["acn"] = {"accuracy": old.pop("acn_full_accuracy"), "depth": old.pop("depth")}
    arms["residual"] = {"accuracy": old.pop("residual_full_accuracy")}
    contrasts = {"acn_cut_minus_best_route_pt": old.pop("acn_cut_minus_best_route_pt")}
    return _done(old, {"seed": old.pop("seed"), "arms": arms, "contrasts": contrasts, "runs": {}})


def _bert(old: Seed) -> Seed:
    arms = {f"{arch}-mlm": _renamed(v) for arch, v in old.pop("pretrain").items()}
    for task, by_arch in old.pop("tasks").items():
        for arch, numbers in by_arch.items():
            arms[f"{arch}-{task}"] = _renamed(numbers)
    contrasts = {k: old.pop(k) for k in list(old) if k.startswith("acn_cut_minus_residual_")}
    return _done(old, {"seed": old.pop("seed"), "arms": arms, "contrasts": contrasts, "runs": {}})


AUTOCUT_VARIANTS = ("residual", "acn", "acn_autocut")


def _autocut(old: Seed) -> Seed:
    settings = old.pop("settings")
    arms, contrasts = {}, {"accuracy_delta_pt": old.pop("accuracy_delta_pt")}
    for name, entry in settings.items():
        entry = dict(entry)
        for variant, numbers in entry.pop("runs").items():
            arms[f"{name}-{variant}"] = dict(numbers)
        for key, value in entry.items():
            contrasts[f"{name}.{key}"] = value
    for key in ("train_flops_ratio", "inference_flops_ratio"):  # the rule's mean over settings
        rows = settings.values()
        contrasts[key] = sum(r[key] for r in rows) / len(rows)
    return _done(old, {"seed": old.pop("seed"), "arms": arms, "contrasts": contrasts, "runs": {}})


def _demo(old: Seed) -> Seed:
    convert = _flat(
        ["residual", "acn"],
        ["accuracy", "cutoff", "accuracy_at_cutoff", "cut_flops_fraction", "accuracy_per_depth",
         "train_time_s"],
        ["acn_minus_residual_pt", "acn_cut_minus_residual_full_pt", "goal_met"],
        ("depth", "data", "params", "flops"),
    )  # fmt: skip
    new = convert(old)
    new["contrasts"]["acn_cut_flops_fraction"] = new["arms"]["acn"]["cut_flops_fraction"]
    return new


NOISE_SETTINGS = ["clean", "gauss_0.1", "gauss_0.2", "gauss_0.4", "sp_0.01", "sp_0.05", "sp_0.1"]
SEEDS: dict[str, Callable[[Seed], Seed]] = {
    "compression": _flat(
        ["feedforward", "residual", "acn", "acn-dg"],
        ["accuracy", "cutoff", "accuracy_per_depth"],
        ["residual_minus_acn_cutoff", "acn_minus_acn_dg_accuracy"],
        ("depth", "data"),
    ),
    "gradients": _flat(
        ["residual", "acn"],
        ["grad_norm", "dg_share", "incremental", "dg_share_mean", "early_late_grad_ratio"],
        ["acn_minus_residual_dg_share"],
        ("epochs",),
    ),
    "noise": _flat(
        ["residual", "acn"],
        NOISE_SETTINGS,
        [f"diff_{s}" for s in NOISE_SETTINGS[1:]]
        + ["acn_minus_residual_pt", "acn_minus_residual_clean_pt"],
    ),
    "lowdata": _flat(
        ["residual", "acn"],
        [f"{split}_loss_{q}" for split in ("train", "test") for q in ("curve", "final", "mean")]
        + ["accuracy"],
        [
            f"residual_minus_acn_{split}_loss_{q}"
            for split in ("train", "test")
            for q in ("final", "mean")
        ],
        ("epochs",),
    ),  # fmt: skip
    "difficulty": _difficulty,
    "demo": _demo,
    "baselines": _nested("models", ["acn_minus_best_other_pt"]),
    "early-exit": _nested("rows", ["acn_minus_res_shared_speedup"]),
    "continual": _nested("cells", ["residual_minus_acn_forgetting_pt"]),
    "pruning": _pruning,
    "transfer": _transfer,
    "alternatives": _alternatives,
    "bert": _bert,
    "autocut": _autocut,
}


# -- checking an upgrade ------------------------------------------------------------------------


def leaves(value: Any) -> Counter:
    """Every number and text leaf of plain JSON data, counted (keys are not leaves)."""
    found: Counter = Counter()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif item is not None:
            found[(type(item).__name__, repr(item))] += 1
    return found


# quantities the upgrade computes (see the module docstring), left out of the comparison
DERIVED = {"autocut": ("train_flops_ratio", "inference_flops_ratio")}


def check_nothing_lost(old: Any, new: Any) -> None:
    """Every leaf of ``old`` is in ``new`` (at least as often), and ``new`` has no leaf value
    that ``old`` lacks (a moved number may be copied, e.g. into every arm; none is made up)
    besides the :data:`DERIVED` quantities."""
    derived = DERIVED.get(new.get("name"), ()) if new.get("kind") == "experiment" else ()
    if derived:
        new = {**new, "per_seed": [
            {**s, "contrasts": {k: v for k, v in s["contrasts"].items() if k not in derived}}
            for s in new["per_seed"]
        ]}  # fmt: skip
    before, after = leaves(old), leaves(new)
    lost = [v for v, n in before.items() if after[v] < n]
    invented = [v for v in after if v not in before and v not in SCHEMA_LEAVES]
    if lost or invented:
        raise ValueError(f"upgrade lost {lost[:3]} or invented {invented[:3]}")


# text the schema itself adds (kinds, names, titles)
SCHEMA_LEAVES = {("int", "1"), ("str", "'experiment'"), ("str", "'bench'"),
                 ("str", "'benchmark'"), ("str", "'benchmarks'"), ("str", "'acn bench'"),
                 *(("str", repr(t)) for t in TITLES.values())}  # fmt: skip
