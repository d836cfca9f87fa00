"""End-to-end `acn probe` and `acn grads` on tiny trained runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import acn
from acn.analysis.noise import noise_drop
from acn.cli import main
from acn.evaluation import evaluate_per_depth
from acn.runs.evaldata import eval_config, load_eval_data
from acn.train.gradient_share import direct_gradient_share, gradient_statistics


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_runs):
    root = tmp_path_factory.mktemp("probe")
    return {mode: tiny_runs.copy(f"mixer-{mode}", root) for mode in ("acn", "residual")}


def errors(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_probe_one_run_writes_table_csv_json_png(runs, capsys):
    run = runs["acn"]
    assert main(["probe", str(run), "--bootstrap", "200"]) == 0
    text = capsys.readouterr().out
    assert "run_acn (acn)" in text and "bootstrap 95% interval" in text
    out = run / "probe"
    result = json.loads((out / "run_acn.json").read_text())
    # the numbers are those of an independent per-depth evaluation on the run's test data
    model = acn.load(run)
    data = load_eval_data(eval_config(run))
    ev = evaluate_per_depth(model, data.batches(500))
    assert result["accuracy"] == pytest.approx(ev.accuracy)
    assert result["num_samples"] == ev.num_samples == 128
    assert result["cutoff"]["num_resamples"] == 200
    assert sum(result["cutoff"]["counts"]) == 200
    assert result["info"]["noise_sigma"] == 0.0
    assert (out / "run_acn.csv").read_text().startswith("depth,accuracy,incremental")
    assert json.loads((out / "probe.json").read_text())[0]["accuracy"] == result["accuracy"]
    assert (out / "accuracy_vs_depth.png").read_bytes()[:4] == b"\x89PNG"


def test_probe_overlays_several_runs_and_checkpoint_files(runs, tmp_path, capsys):
    checkpoint = runs["residual"] / "checkpoint" / "model.safetensors"
    argv = ["probe", str(runs["acn"]), str(checkpoint), "--bootstrap", "20", "--out", str(tmp_path)]
    assert main(argv) == 0
    summary = json.loads((tmp_path / "probe.json").read_text())
    assert [(r["name"], r["connectivity"]) for r in summary] == [
        ("run_acn", "acn"),
        ("run_residual", "residual"),
    ]
    assert (tmp_path / "run_residual.csv").is_file()
    assert (tmp_path / "accuracy_vs_depth.png").is_file()


def test_probe_with_noise_is_seeded(runs, tmp_path):
    def accuracy(seed: int, sigma: float) -> list[float]:
        out = tmp_path / f"{seed}-{sigma}"
        argv = ["probe", str(runs["acn"]), "--bootstrap", "5", "--out", str(out)]
        argv += ["--noise-sigma", str(sigma), "--salt-pepper", "0.1", "--seed", str(seed)]
        assert main(argv) == 0
        return json.loads((out / "run_acn.json").read_text())["accuracy"]

    noisy = accuracy(0, 0.5)
    assert accuracy(0, 0.5) == noisy
    assert accuracy(1, 0.5) != noisy
    assert accuracy(0, 0.0) != noisy


def test_probe_with_noise_reports_clean_accuracy_and_the_drop(runs, tmp_path, capsys):
    argv = ["probe", str(runs["acn"]), "--bootstrap", "5", "--out", str(tmp_path / "noisy")]
    assert main([*argv, "--noise-sigma", "0.6", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    result = json.loads((tmp_path / "noisy" / "run_acn.json").read_text())
    # the oracles: the clean probe of the same model, and the library's seeded noise draw
    assert main(["probe", str(runs["acn"]), "--bootstrap", "5", "--out", str(tmp_path / "c")]) == 0
    clean = json.loads((tmp_path / "c" / "run_acn.json").read_text())
    assert result["clean_accuracy"] == clean["accuracy"] and clean["noise_drop"] is None
    model = acn.load(runs["acn"])
    drop = noise_drop(model, load_eval_data(eval_config(runs["acn"])), 0.6, 0.0, seed=3)
    assert result["accuracy"] == pytest.approx(drop.noisy)
    assert result["noise_drop"] == pytest.approx(drop.drop)
    assert result["noise_drop"][-1] == pytest.approx(clean["accuracy"][-1] - result["accuracy"][-1])
    assert max(abs(d) for d in result["noise_drop"]) > 0  # sigma 0.6 changes predictions
    assert f"a drop of {result['noise_drop'][-1]:.2f} points" in text
    header = (tmp_path / "noisy" / "run_acn.csv").read_text().splitlines()[0]
    assert header.endswith("clean_accuracy,noise_drop")


def test_probe_errors_are_one_line(runs, tmp_path, capsys):
    (tmp_path / "bad.safetensors").write_bytes(b"not a model")
    vector_data = tmp_path / "vec.npz"
    np.savez(vector_data, x=np.zeros((8, 3), np.float32), y=np.arange(8) % 2)
    argvs = [
        ["probe", str(tmp_path / "missing")],
        ["probe", str(tmp_path / "bad.safetensors"), "--data", "mnist5k"],
        ["probe", str(runs["acn"]), "--tolerance", "-1"],
        ["probe", str(runs["acn"]), "--bootstrap", "0"],
        ["probe", str(runs["acn"]), "--salt-pepper", "2"],
        ["probe", str(runs["acn"]), "--salt-pepper", "nan"],
        ["probe", str(runs["acn"]), "--noise-sigma", "nan"],
        ["probe", str(runs["acn"]), "--bootstrap", "100000000000000000000"],
        ["probe", str(runs["acn"]), "--data", f"npz:{vector_data}", "--noise-sigma", "0.1"],
        ["probe", str(runs["acn"]), "--data", "no_such_dataset"],
    ]
    for argv in argvs:
        assert main(argv) == 2, argv
    lines = errors(capsys)
    assert len(lines) == len(argvs) and all(line.startswith("acn: error: ") for line in lines)


def write_metrics(run, model, x, y, epochs: int, dg: bool) -> list[dict]:
    """metrics.jsonl records as the training loop logs them (DG share measured for real)."""
    records = []
    for epoch in range(1, epochs + 1):
        rec = {
            "epoch": epoch,
            "accuracy_per_depth": [10.0 * epoch + k for k in range(model.depth + 1)],
            "grad_norm_per_block": [1.0 / (epoch + k) for k in range(model.depth)],
        }
        if dg:
            rec["dg_share"] = direct_gradient_share(model, x, y)
            stats = gradient_statistics(model, x, y)
            rec["dg_cosine"], rec["dg_norm_ratio"] = stats.cosine, stats.norm_ratio
        records.append(rec)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return records


def test_grads_draws_heatmaps_from_metrics(runs, tmp_path, capsys):
    data = load_eval_data(eval_config(runs["acn"]))
    x, y = next(data.batches(16))
    recs = {}
    for mode, run in runs.items():
        recs[mode] = write_metrics(run, acn.load(run), x, y, 3, dg=mode == "acn")
    argv = ["grads", str(runs["acn"]), str(runs["residual"]), "--out", str(tmp_path)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "no dg_share logged by run_residual" in text
    assert "no dg_cosine logged by run_residual" in text
    for name in ("grad_norms.png", "incremental.png", "dg_share.png", "dg_cosine.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    report = json.loads((tmp_path / "grads.json").read_text())
    acn_norms = report["grad_norm"]["runs"][0]
    assert acn_norms["label"] == "run_acn" and acn_norms["epochs"] == [1, 2, 3]
    assert acn_norms["values"][1] == [r["grad_norm_per_block"][1] for r in recs["acn"]]
    assert report["grad_norm"]["vmax"] == 1.0  # shared over both runs
    assert [p["label"] for p in report["dg_share"]["runs"]] == ["run_acn"]
    assert report["dg_share"]["runs"][0]["values"][0][0] == recs["acn"][0]["dg_share"][0]
    assert report["incremental"]["runs"][1]["values"][0] == [1.0, 1.0, 1.0]
    assert report["dg_cosine"]["runs"][0]["values"][0][0] == recs["acn"][0]["dg_cosine"][0]
    # grad norms 1/(epoch + k): blocks 1 and 3 (of 3) are the first and last "quarters"
    ratios = report["grad_norm"]["early_late_ratio"]["run_acn"]
    assert ratios == pytest.approx([(e + 2) / e for e in (1, 2, 3)])


def test_grads_errors_are_one_line(runs, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_text('{"epoch": 1}\n{broken\n{"epoch": 2}\n')
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "metrics.jsonl").write_text("[1, 2]\n3\n")
    argvs = [
        ["grads", str(tmp_path / "missing")],
        ["grads", str(runs["acn"] / "checkpoint")],
        ["grads", str(tmp_path / "run")],
        ["grads", str(tmp_path / "lists")],
    ]
    for argv in argvs:
        assert main(argv) == 2, argv
    lines = errors(capsys)
    assert len(lines) == 4 and all(line.startswith("acn: error: ") for line in lines)
    assert "corrupt line 2" in lines[2]
    assert "line 1 in" in lines[3] and "is not a JSON object" in lines[3]
    assert not (tmp_path / "lists" / "grads").exists()


def test_probe_a_bare_model_file(runs, tmp_path, capsys):
    """A model file carries its data and preparation; one written before it did needs --data."""
    reference = evaluate_per_depth(
        acn.load(runs["acn"]), load_eval_data(eval_config(runs["acn"])).batches()
    )
    model_file = acn.save(acn.load(runs["acn"]), tmp_path / "alone" / "m.safetensors")
    assert main(["probe", str(model_file), "--bootstrap", "5"]) == 0
    result = json.loads((tmp_path / "alone" / "probe" / "m.json").read_text())
    assert result["name"] == "m" and result["accuracy"] == pytest.approx(reference.accuracy)

    old = acn.load(runs["acn"])
    old.pretrained_cfg = {}  # as files written by earlier versions
    old_file = acn.save(old, tmp_path / "old" / "m.safetensors")
    assert main(["probe", str(old_file), "--bootstrap", "5"]) == 2
    assert "pass --data SPEC" in errors(capsys)[0]
    spec = f"npz:{runs['acn'].parent / 'quadrants.npz'}"
    assert main(["probe", str(old_file), "--data", spec, "--bootstrap", "5"]) == 0
    result = json.loads((tmp_path / "old" / "probe" / "m.json").read_text())
    assert result["accuracy"] == pytest.approx(reference.accuracy)
