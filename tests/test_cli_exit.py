"""End-to-end `acn exit` on tiny trained runs and its one-line errors."""

from __future__ import annotations

import json

import pytest

from acn.cli import main


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory, tiny_runs):
    return tiny_runs.copy("exits", tmp_path_factory.mktemp("cli_exit"), name="shared")


def test_exit_on_a_run_prints_the_table_and_writes_the_sweep(shared_run, capsys):
    argv = ["exit", str(shared_run), "--timing-batch", "8", "--latency-samples", "2"]
    argv += ["--repeats", "1"]
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
    final = ["exit", str(shared_run), "--heads", "final", "--no-time", "--out", str(tmp_path)]
    assert main(final) == 0
    assert " cutoff " in capsys.readouterr().out
    assert main([*final, "--cutoff-depth", "2"]) == 0
    assert "given with --tau or --cutoff-depth" in capsys.readouterr().out
    report = json.loads((tmp_path / "exit_report.json").read_text())[0]
    assert report["tau"] == 2 and not report["calibrated"]  # the cutoff depth, not calibrated


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{run}/missing"], "checkpoint not found"),
        (["{run}", "--tau", "0.5", "--policy", "patience"], "whole number"),
        (["{run}", "--heads", "branches"], "no exit branches"),
        (["{run}", "--tolerance", "-1", "--no-time"], "argument --tolerance: must be >= 0"),
        (["{run}", "--tau", "nan"], "argument --tau: must be a finite number"),
        (["{run}", "--heads", "final", "--tau", "2"], "but --heads final: use --cutoff-depth"),
        (["{run}", "--cutoff-depth", "2", "--no-time"], "--cutoff-depth needs --heads final"),
        (
            ["{run}", "--heads", "final", "--cutoff-depth", "99"],
            "depth must be in 0..3 for this 3-block model, got 99",
        ),
        (["{run}", "--epochs", "3"], "unrecognized arguments: --epochs"),
        (["{run}", "--repeats", "0"], "argument --repeats: must be in 1.."),
        (["{run}", "--data", "mnist5k"], "expects"),
    ],
)
def test_errors_are_one_line(shared_run, capsys, args, message):
    argv = ["exit", *(a.format(run=shared_run) for a in args)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("acn: error: ") and message in err[0]


def test_usage_errors_are_one_line(capsys):
    assert main(["exit", "x", "--policy", "depth"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid choice" in err[0]


def test_corrupt_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00not a model")
    assert main(["exit", str(bad), "--data", "mnist5k"]) == 2
    assert "corrupt or unreadable checkpoint" in capsys.readouterr().err
