"""End-to-end runs of `acn cost`, `acn compress` and `acn prune` on tiny models and data."""

import csv
import json

import pytest

import acn
from acn.cli import main
from acn.compress.cost import cost
from acn.compress.prune import prunable_weights
from acn.models.registry import tiny_overrides


def test_cost_preset_prints_text_or_json(capsys):
    assert main(["cost", "mixer_s8", "--preset-depth", "2", "--no-time"]) == 0
    text = capsys.readouterr().out
    assert "FLOPs (2 x MACs)" in text and "size on disk" in text
    assert main(["cost", "mixer_s8", "--preset-depth", "2", "--no-time", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["flops"] == cost(acn.create_model("mixer_s8", depth=2))["flops"]
    assert report["depth"] == 2


def test_cost_depth_keeps_k_blocks_of_any_model(tmp_path, capsys):
    """--depth K is the model cut to its first K blocks (as in compress and export); a preset
    resized to K blocks (--preset-depth K) has the same cost."""
    path = acn.save(acn.create_model("mixer_s8", depth=4), tmp_path / "m.safetensors")
    assert main(["cost", str(path), "--depth", "3", "--no-time", "--json"]) == 0
    cut = json.loads(capsys.readouterr().out)
    assert main(["cost", "mixer_s8", "--preset-depth", "3", "--no-time", "--json"]) == 0
    resized = json.loads(capsys.readouterr().out)
    assert cut["depth"] == resized["depth"] == 3
    assert (cut["params"], cut["flops"]) == (resized["params"], resized["flops"])


def test_cost_of_a_saved_model(tmp_path, capsys):
    model = acn.create_model("vit_tiny_cifar", "residual", **tiny_overrides("vit_tiny_cifar"))
    path = acn.save(model, tmp_path / "run" / "model.safetensors")
    assert main(["cost", str(path.parent), "--timing-batch", "4", "--repeats", "2"]) == 0
    text = capsys.readouterr().out
    assert "residual" in text and "throughput @ batch 4" in text and "measured on cpu" in text


def test_cost_errors_are_one_line(tmp_path, capsys):
    assert main(["cost", "no_such_model"]) == 2
    assert main(["cost", str(tmp_path / "missing.safetensors")]) == 2
    assert main(["cost", "mixer_s8", "--batch-size", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("acn: error: ") for line in err)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_runs):
    return tiny_runs.copy("mixer-acn", tmp_path_factory.mktemp("cli"))


def test_compress_run_end_to_end(run_dir, capsys):
    argv = ["compress", str(run_dir), "--tolerance", "0.5", "--timing-batch", "8"]
    assert main([*argv, "--repeats", "2"]) == 0
    text = capsys.readouterr().out
    assert "before" in text and "after" in text and "throughput @ batch 8" in text
    report = json.loads((run_dir / "compressed" / "compress.json").read_text())
    small = acn.load(run_dir / "compressed")  # a run-dir-like folder loads too
    assert small.depth == report["cutoff_depth"] == report["after"]["depth"]
    for side in ("before", "after"):
        for key in ("accuracy", "params", "flops", "size_bytes", "latency_ms", "throughput"):
            assert key in report[side]
    assert report["machine"]["torch"] and report["rule"] == {"tolerance": 0.5}


def test_compress_fixed_depth_to_a_chosen_directory(run_dir, tmp_path):
    out = tmp_path / "two"
    assert main(["compress", str(run_dir), "--depth", "2", "--out", str(out), "--no-time"]) == 0
    assert acn.load(out / "model.safetensors").depth == 2
    assert "latency_ms" not in json.loads((out / "compress.json").read_text())["after"]


def test_compress_errors_are_one_line_and_keep_the_source(run_dir, tmp_path, capsys):
    source = run_dir / "checkpoint" / "model.safetensors"
    before = source.read_bytes()
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00garbage")
    old = acn.load(source)
    old.pretrained_cfg = {}  # a file written before model files recorded their data
    lone = acn.save(old, tmp_path / "lone" / "model.safetensors")
    cases = [
        ["compress", str(run_dir), "--depth", "99"],
        ["compress", str(tmp_path / "missing")],
        ["compress", str(corrupt), "--data", "mnist5k"],
        ["compress", str(source), "--out", str(source)],  # a file, not a directory
        ["compress", str(run_dir / "compressed"), "--out", str(run_dir / "compressed")],
        ["compress", str(lone)],  # no recorded data and no --data
        ["compress", str(run_dir), "--depth", "1", "--tolerance", "1"],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == len(cases) and all(line.startswith("acn: error: ") for line in err)
    assert source.read_bytes() == before


def test_prune_acn_and_residual_runs_on_one_plot(run_dir, tiny_runs, tmp_path, capsys):
    residual = tiny_runs.copy("mixer-residual", tmp_path)
    out = tmp_path / "out"
    argv = ["prune", str(run_dir), str(residual / "checkpoint"), "--sparsities", "0,50,90"]
    assert main([*argv, "--out", str(out), "--save-models"]) == 0
    assert "run_residual" in capsys.readouterr().out
    rows = list(csv.DictReader((out / "prune.csv").open()))
    assert [(r["run"], r["connectivity"]) for r in rows] == [("run_acn", "acn")] * 3 + [
        ("run_residual", "residual")
    ] * 3
    assert (out / "prune.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads((out / "prune.json").read_text())
    assert report["levels"] == [0.0, 0.5, 0.9] and report["machine"]["torch"]
    # the reported sparsity is the zeros the saved file holds
    saved = acn.load(out / "models" / "run_residual" / "sparsity-90.safetensors")
    weights = prunable_weights(saved).values()
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
    assert float(rows[5]["block_sparsity"]) == pytest.approx(zeros, abs=1e-6)
    assert zeros == pytest.approx(0.9, abs=1e-3)


def test_prune_errors_are_one_line(run_dir, tmp_path, capsys):
    cases = [
        ["prune", str(run_dir), "--sparsities", "0,10,...,90"],
        ["prune", str(run_dir), "--sparsities", "120"],
        ["prune", str(run_dir), str(tmp_path / "missing")],
        ["prune", str(run_dir), "--data", "mnist5k"],  # 28x28 digits do not fit a 16x16 model
    ]
    for argv in cases:
        assert main([*argv, "--out", str(tmp_path / "o")]) == 2, argv
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == len(cases) and all(line.startswith("acn: error: ") for line in err)
    assert not (tmp_path / "o").exists()
