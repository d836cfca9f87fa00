"""End-to-end `acn exit` on tiny trained runs, its one-line errors, and `acn exit table7 --quick`."""

from __future__ import annotations

import json

import pytest

from _exits_helpers import trained_run
from acn.cli import main


def exit_code(argv: list[str]) -> int:
    """main()'s return value, or the code of a usage error (argparse exits)."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code)


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    return trained_run(tmp_path_factory.mktemp("cli_exit"), "--loss=exits", name="shared")


def test_exit_on_a_run_prints_the_table_and_writes_the_sweep(shared_run, capsys):
    argv = ["exit", str(shared_run), "--batch", "8", "--latency-samples", "2", "--repeats", "1"]
    assert main([*argv, "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    assert "test halves: 16 validation / 16 test" in out
    row = next(line for line in out.splitlines() if line.startswith("shared "))
    assert " shared " in row and " entropy " in row  # heads detected from the run's exit loss
    assert "wall x b8" in out and "timed on cpu" in out
    report = json.loads((shared_run / "exit" / "exit_report.json").read_text())
    assert report[0]["heads"] == "shared" and report[0]["calibrated"]
    assert (shared_run / "exit" / "sweep.png").is_file()


def test_fixed_threshold_and_several_runs(shared_run, tmp_path, capsys):
    argv = ["exit", str(shared_run), str(shared_run / "checkpoint" / "model.safetensors")]
    argv += ["--policy", "patience", "--tau", "2", "--no-time", "--out", str(tmp_path / "o")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count(" patience ") == 2 and "threshold given with --tau" in out
    assert len(json.loads((tmp_path / "o" / "exit_report.json").read_text())) == 2
    assert (
        main(["exit", str(shared_run), "--heads", "final", "--no-time", "--out", str(tmp_path)])
        == 0
    )
    assert " cutoff " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{run}/missing"], "checkpoint not found"),
        (["{run}", "--tau", "0.5", "--policy", "patience"], "whole number"),
        (["{run}", "--heads", "branches"], "no exit branches"),
        (["{run}", "--target-drop", "-1", "--no-time"], "target drop"),
        (["{run}", "--epochs", "3"], "only apply to `acn exit table7`"),
        (["{run}", "--repeats", "0"], "must be >= 1"),
        (["{run}", "--data", "mnist5k"], "expects"),
        (["table7", "--tau", "0.7"], "drop --data/--tau"),
    ],
)
def test_errors_are_one_line(shared_run, capsys, args, message):
    argv = ["exit", *(a.format(run=shared_run) for a in args)]
    assert exit_code(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("acn: error: ") and message in err[0]


def test_usage_errors_are_one_line(capsys):
    assert exit_code(["exit", "x", "--policy", "depth"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid choice" in err[0]


def test_corrupt_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00not a model")
    assert exit_code(["exit", str(bad), "--data", "mnist5k"]) == 2
    assert "corrupt or unreadable checkpoint" in capsys.readouterr().err


@pytest.mark.slow
def test_table7_quick(tmp_path, capsys):
    out = tmp_path / "t7"
    assert main(["exit", "table7", "--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for name in (
        "res-plain",
        "acn-plain",
        "res-branches",
        "acn-branches",
        "res-shared",
        "acn-shared",
    ):
        assert name in text
        assert (out / name / "summary.json").is_file()
    report = json.loads((out / "exit_report.json").read_text())
    assert [r["heads"] for r in report] == [
        "final",
        "final",
        "branches",
        "branches",
        "shared",
        "shared",
    ]
    assert all(r["wall"] for r in report)
    # a second call reuses the finished runs instead of training again
    assert main(["exit", "table7", "--quick", "--out", str(out), "--no-time"]) == 0
    assert capsys.readouterr().out.count("reusing the finished run") == 6
