"""The one result schema from outside: hostile or hand-edited result files given to ``acn report``
and ``acn reproduce NAME --redecide`` are one line, exit 2, and nothing is written; the upgrade
of older files keeps every number."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from acn.cli import main
from acn.experiments.legacy import check_nothing_lost, leaves, upgrade
from acn.experiments.results import check, read_result

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "docs" / "results"


def results_dir(tmp_path: Path, *names: str) -> Path:
    out = tmp_path / "results"
    out.mkdir()
    for name in names:
        shutil.copy(COMMITTED / f"{name}.json", out / f"{name}.json")
    return out


def one_line_exit_2(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("acn: error: ") and captured.err.count("\n") == 1
    assert "Traceback" not in captured.err
    return captured.err


def edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


# name -> how a hand-edited or hostile compression.json breaks, and the field the message names
BAD_RESULTS = {
    "invalid UTF-8": (b'{"schema": 1, "name": "caf\xe9"}', "not UTF-8"),
    "deeply nested": ("[" * 200_000 + "]" * 200_000, "nested"),
    "nested below the recursion limit": ('{"a": ' * 900 + "1" + "}" * 900, "nested deeper"),
    "rule as text": (lambda d: d.update(rule="residual wins"), "rule must be a JSON object"),
    "claim as text": (lambda d: d.update(claim="ACN wins"), "claim must be a JSON object"),
    "mean as text": (lambda d: d["quantity"].update(mean="4.3"), "quantity.mean must be a number"),
    "threshold as text": (lambda d: d["rule"].update(threshold="0"), "rule.threshold must be a"),
    "seeds as a number": (lambda d: d.update(seeds=3), "seeds must be a list"),
    "redecided without a date": (
        lambda d: d.update(redecided=[{"previous_verdict": "holds"}]),
        "redecided[0].date is missing",
    ),
    "an unknown verdict": (lambda d: d.update(verdict="sure"), "verdict must be one of"),
    "a plot outside": (lambda d: d.update(plots=["../../etc/x.png"]), "plots[0] must be a path"),
    "NaN as a number": ('{"schema": 1, "mean": NaN}', "NaN is not a JSON number"),
}


def write_bad(path: Path, case: str) -> None:
    content, _ = BAD_RESULTS[case]
    if callable(content):
        edit(path, content)
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


@pytest.mark.parametrize("case", list(BAD_RESULTS))
def test_report_refuses_a_bad_result_in_one_line_and_writes_nothing(tmp_path, capsys, case):
    out = results_dir(tmp_path, "compression", "noise")
    write_bad(out / "compression.json", case)
    err = one_line_exit_2(["report", "--out", str(out)], capsys)
    assert "compression.json" in err and BAD_RESULTS[case][1] in err
    assert not (out / "REPORT.md").exists()


@pytest.mark.parametrize("case", list(BAD_RESULTS))
def test_redecide_refuses_a_bad_result_in_one_line_and_keeps_it(tmp_path, capsys, case):
    out = results_dir(tmp_path, "compression")
    write_bad(out / "compression.json", case)
    before = (out / "compression.json").read_bytes()
    err = one_line_exit_2(["reproduce", "compression", "--redecide", "--out", str(out)], capsys)
    assert "not a result `acn reproduce compression` wrote" in err
    assert (out / "compression.json").read_bytes() == before


PER_SEED = {
    "seeds as text": (lambda s: ["seed 0", "seed 1"], "per_seed[0] must be a JSON object"),
    "seeds as numbers": (lambda s: [1, 2, 3], "per_seed[0] must be a JSON object"),
    "arms as a list": (lambda s: [{**s[0], "arms": [1]}], "per_seed[0].arms must be a JSON"),
    "a seed repeated": (lambda s: [s[0], s[0]], "per_seed[1].seed repeats seed 0"),
    "no seed": (lambda s: [{k: v for k, v in s[0].items() if k != "seed"}], "seed is missing"),
}


@pytest.mark.parametrize("case", list(PER_SEED))
def test_redecide_checks_the_per_seed_shape(tmp_path, capsys, case):
    out = results_dir(tmp_path, "compression")
    change, message = PER_SEED[case]
    edit(out / "compression.json", lambda d: d.update(per_seed=change(d["per_seed"])))
    before = (out / "compression.json").read_bytes()
    err = one_line_exit_2(["reproduce", "compression", "--redecide", "--out", str(out)], capsys)
    assert message in err and (out / "compression.json").read_bytes() == before


def test_redecide_reads_odd_numbers_as_numbers_or_as_missing(tmp_path, capsys):
    """Text, lists and values near the float limit in the contrasts: a verdict, no traceback."""
    out = results_dir(tmp_path, "compression")
    path = out / "compression.json"

    def contrasts(values):
        def change(d):
            for row, value in zip(d["per_seed"], values):
                row["contrasts"]["residual_minus_acn_cutoff"] = value

        return change

    edit(path, contrasts(["4", [4], 5]))
    assert main(["reproduce", "compression", "--redecide", "--out", str(out)]) == 0
    assert read_result(path)["verdict"] == "inconclusive"  # two of three are not numbers
    edit(path, contrasts([1e308, 1e308, 1e308]))
    assert main(["reproduce", "compression", "--redecide", "--out", str(out)]) == 0
    result = read_result(path)  # written, and valid
    assert result["quantity"] is None and result["verdict"] in ("partly", "inconclusive")
    history = result["redecided"]
    assert [h["previous_verdict"] for h in history] == ["holds", "inconclusive"]


def test_redecide_draws_missing_plots_or_says_which_number_is_missing(tmp_path, capsys):
    out = results_dir(tmp_path, "noise", "compression")
    for name, key in (("noise", "gauss_0.1"), ("compression", "cutoff")):  # custom, declared
        path = out / f"{name}.json"

        def drop(d, key=key):
            d["plots"] = []
            del d["per_seed"][1]["arms"]["acn"][key]

        edit(path, drop)
        before = path.read_bytes()
        err = one_line_exit_2(["reproduce", name, "--redecide", "--out", str(out)], capsys)
        assert name != "compression" or "seed 1 has no number acn.cutoff" in err
        assert f"cannot draw the figures of {name}" in err
        assert path.read_bytes() == before and not (out / name).exists()
    edit(out / "noise.json", lambda d: d.update(plots=[], per_seed=json.loads(
        (COMMITTED / "noise.json").read_text())["per_seed"]))  # fmt: skip
    assert main(["reproduce", "noise", "--redecide", "--out", str(out)]) == 0
    plots = read_result(out / "noise.json")["plots"]
    assert plots == ["noise/gauss_noise.png", "noise/sp_noise.png"]
    assert (out / plots[0]).read_bytes() == (COMMITTED / plots[0]).read_bytes()


def test_a_bad_device_is_one_line_and_leaves_no_link(tmp_path, capsys):
    runs = tmp_path / "runs"
    argv = ["reproduce", "compression", "--scale", "smoke", "--seeds", "1", "--device", "bogus"]
    err = one_line_exit_2([*argv, "--runs", str(runs), "--out", str(tmp_path / "out")], capsys)
    assert "unknown device 'bogus'" in err
    assert not runs.exists() and not (tmp_path / "out").exists()


def test_the_upgrade_keeps_every_number_and_refuses_to_invent_one():
    old = {"experiment": "noise", "title": "t", "scale": "cpu", "seeds": [0], "torch": "2",
           "hardware": {"device": "cpu", "load_average_1min": {"start": 1.5, "end": 2.5}},
           "wall_time_s": 9.0, "note": "", "claim": {"text": "c", "paper": "p"},
           "rule": {"quantity": "acn_minus_residual_pt", "direction": "greater", "threshold": 0.0},
           "quantity": None, "verdict": "inconclusive", "summary": "s", "changes": "c",
           "summary_numbers": {}, "plots": [],
           "per_seed": [{"seed": 0, **{f"{c}_{s}": 50.0 + i for i, c in enumerate(["residual", "acn"])
                                       for s in ["clean", "gauss_0.1", "gauss_0.2", "gauss_0.4",
                                                 "sp_0.01", "sp_0.05", "sp_0.1"]},
                         **{f"diff_{s}": 1.0 for s in ["gauss_0.1", "gauss_0.2", "gauss_0.4",
                                                       "sp_0.01", "sp_0.05", "sp_0.1"]},
                         "acn_minus_residual_pt": 1.0, "acn_minus_residual_clean_pt": 1.0}]}  # fmt: skip
    new = upgrade(json.loads(json.dumps(old)))
    check(new, "upgraded")
    check_nothing_lost(old, new)
    assert new["per_seed"][0]["arms"]["acn"]["gauss_0.4"] == 51.0
    assert new["provenance"]["load_average"] == {"start": [1.5], "end": [2.5]}
    assert leaves(old)[("float", "9.0")] == leaves(new)[("float", "9.0")] == 1
    with pytest.raises(ValueError, match="invented"):
        check_nothing_lost(old, {**new, "extra": 123.0})
    with pytest.raises(ValueError, match="lost"):
        check_nothing_lost(old, {**new, "provenance": {**new["provenance"], "wall_time_s": None}})
    unknown = json.loads(json.dumps(old))
    unknown["per_seed"][0]["surprise"] = 1.0
    with pytest.raises(ValueError, match="does not know: surprise"):
        upgrade(unknown)
