"""Bad command-line input: exit code 2, one line on stderr, no traceback, nothing written."""

from __future__ import annotations

import errno
import re
from pathlib import Path

import pytest

from acn.cli import main

FILE = "{tmp}/a-file"
CASES = {
    "probe": [
        (["{run}", "--out", FILE], "argument --out: .* is a file"),
        (["{run}", "--out", FILE + "/sub"], "argument --out: .* is a file, not a directory"),
        (["{run}", "--bootstrap", "1e20"], "argument --bootstrap: expected a whole number"),
        (["{run}", "--bootstrap", "100001"], r"argument --bootstrap: must be in 1\.\.100000"),
        (["{run}", "--noise-sigma", "nan"], "argument --noise-sigma: must be a finite number"),
        (["{run}", "--salt-pepper", "nan"], "argument --salt-pepper: must be a finite number"),
        (["{run}", "--tolerance", "nan"], "argument --tolerance: must be a finite number"),
        (["{run}", "--seed", "1e23"], "argument --seed: expected a whole number"),
        (["{run}", "--batch-size", "0"], "argument --batch-size: must be in 1"),
        (["{blocked}"], r"--out .*probe is a file"),  # the default RUN/probe
    ],
    "compress": [
        (["{run}", "--out", FILE], "argument --out: .* is a file"),
        (["{run}", "--tolerance", "nan"], "argument --tolerance: must be a finite number"),
        (["{run}", "--tolerance", "inf"], "argument --tolerance: must be a finite number"),
        (["{run}", "--depth", "-1"], "argument --depth: must be in 0"),
        (["{run}", "--timing-batch", "0"], "argument --timing-batch: must be in 1"),
        (["{run}", "--repeats", "100000000"], "argument --repeats: must be in 1"),
        (["{blocked}"], r"--out .*compressed is a file"),
    ],
    "prune": [
        (["{run}", "--out", FILE], "argument --out: .* is a file"),
        (["{run}", "--sparsities", "nan"], "argument --sparsities: expected percentages"),
        (["{run}", "--tolerance", "nan"], "argument --tolerance: must be a finite number"),
    ],
    "grads": [
        (["{run}", "--out", FILE], "argument --out: .* is a file"),
        (["{run}", "--normalize", "max"], "argument --normalize: invalid choice"),
        (["{blocked}"], r"--out .*grads is a file"),
    ],
    "exit": [
        (["{run}", "--out", FILE], "argument --out: .* is a file"),
        (["{run}", "--tau", "nan"], "argument --tau: must be a finite number"),
        (["{run}", "--tau", "inf"], "argument --tau: must be a finite number"),
        (["{run}", "--tolerance", "nan"], "argument --tolerance: must be a finite number"),
        (["{run}", "--policy", "depth"], "argument --policy: invalid choice"),
        (["{run}", "--heads", "all"], "argument --heads: invalid choice"),
        (["{run}", "--cutoff-depth", "-1"], "argument --cutoff-depth: must be in 0"),
        (["{run}", "--latency-samples", "0"], "argument --latency-samples: must be in 1"),
        (["table7"], "checkpoint not found: table7"),  # no hidden subcommand any more
        (["{blocked}"], r"--out .*exit is a file"),
    ],
    "cost": [
        (["mixer_s8", "--json", "{tmp}"], "unrecognized arguments: "),  # --json is a switch
        (["mixer_s8", "--depth", "100000"], r"argument --depth: must be in 0\.\.1000,"),
        (["mixer_s8", "--depth", "9"], r"depth must be in 0\.\.8 for this 8-block model, got 9"),
        (["mixer_s8", "--preset-depth", "0"], "argument --preset-depth: must be in 1"),
        (["{run}", "--preset-depth", "2"], "resize a preset, not a saved model"),
        (["mixer_s8", "--num-classes", "0"], "argument --num-classes: must be in 1"),
        (["mixer_s8", "--connectivity", "skip"], "argument --connectivity: invalid choice"),
        (["mixer_s8", "--batch-size", "0"], "argument --batch-size: must be in 1"),
        (["mixer_s8", "--timing-batch", "1000000"], "argument --timing-batch: must be in 1"),
    ],
    "train": [
        (["{run}/config.yaml", "--out", FILE], "argument --out: .* is a file"),
    ],
    "demo": [
        (["--epochs", "0"], "argument --epochs: must be in 1"),
        (["--epochs", "100000"], "argument --epochs: must be in 1"),
        (["--seed", "-1"], "argument --seed: must be in 0"),
        (["--out", FILE], "argument --out: .* is a file"),
    ],
    "models": [
        (["mixer_*", "--depth", "3"], "unrecognized arguments: --depth 3"),
    ],
    "export": [
        (["{run}", "--format", "tflite"], "argument --format: invalid choice"),
        (
            ["{run}", "--format", "pt2", "--depth", "9"],
            r"depth must be in 0\.\.3 for this 3-block model, got",
        ),
        (["{run}", "--format", "pt2", "--out", FILE], "argument --out: .* is a file"),
        (["{run}", "--format", "pt2", "--atol", "nan"], "argument --atol: must be a finite"),
        (["{blocked}", "--format", "pt2"], r"--out .*export is a file"),
    ],
    "reproduce": [
        (["no-such-experiment"], "unknown experiment 'no-such-experiment'"),
        (
            ["bert", "--redecide", "--out", "{tmp}"],
            r"bert\.json: not a result `acn reproduce bert`",
        ),
        (["bert", "--redecide", "--dry-run"], "cannot be combined with --dry-run"),
        (["bert", "--scale", "huge"], "argument --scale: invalid choice"),
    ],
}


@pytest.fixture(scope="module")
def places(tmp_path_factory, tiny_runs) -> dict[str, Path]:
    """A trained run, and one whose default output paths are taken by files."""
    root = tmp_path_factory.mktemp("bad")
    run = tiny_runs.copy("mixer-acn", root)
    blocked = tiny_runs.copy("mixer-acn", root / "blocked")
    for name in ("probe", "compressed", "grads", "exit", "export"):
        (blocked / name).write_text("a file where the default output directory would go")
    (blocked / "metrics.jsonl").write_text('{"epoch": 1}\n')
    (root / "a-file").write_text("not a directory")
    return {"run": run, "blocked": blocked, "tmp": root}


def snapshot(root: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def one_line_error(capsys, argv: list[str]) -> str:
    """Run the CLI; expect exit code 2 and exactly one `acn: error:` line (no traceback)."""
    assert main(argv) == 2, argv
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("acn: error: ") and "\n" not in err, err
    assert "Traceback" not in captured.err + captured.out
    return err


@pytest.mark.parametrize(
    ("command", "args", "match"),
    [(c, a, m) for c, cases in CASES.items() for a, m in cases],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(places, capsys, command, args, match):
    before = snapshot(places["tmp"])
    argv = [command, *(a.format(**places) for a in args)]
    err = one_line_error(capsys, argv)
    assert re.search(match, err), err
    assert snapshot(places["tmp"]) == before


def test_a_failed_write_is_one_line(places, capsys, monkeypatch):
    # (the first FLOP count in a process loads torch's counting machinery: a few seconds)
    def full_disk(path, write):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("acn.cli.probe.atomic_write", full_disk)
    out = places["tmp"] / "probe-out"
    argv = ["probe", str(places["run"]), "--bootstrap", "2", "--out", str(out)]
    err = one_line_error(capsys, argv)
    assert "No space left on device" in err and str(out) in err
    assert not out.exists()


def test_a_resized_preset_is_sized_before_it_is_built(capsys, monkeypatch):
    # vit_b16_224 at --preset-depth 1000 has 7.1G parameters (27 GiB); the same rule, on a small cap
    monkeypatch.setattr("acn.cli.cost.MAX_PARAMS", 100_000)
    argv = ["cost", "mixer_s8", "--preset-depth", "50", "--num-classes", "10", "--no-time"]
    err = one_line_error(capsys, argv)
    assert re.search(
        r"mixer_s8 with --preset-depth 50 --num-classes 10 has [\d.]+M parameters", err
    )
