"""`acn export` and acn.export: torch.export programs for every family, the command on a run
directory / model file / pretrained directory, and its one-line errors (no partial files)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest
import torch

import acn
from _export_helpers import FAMILY_PRESETS, block_indices, tiny
from acn.cli import main
from acn.export import Parity, export_model


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_runs):
    return tiny_runs.copy("mixer-acn", tmp_path_factory.mktemp("export"))


@pytest.mark.parametrize("name", FAMILY_PRESETS)
def test_pt2_of_every_family_matches_eager_and_holds_only_the_kept_blocks(name, tmp_path):
    model = tiny(name, depth=3)
    result = export_model(model, tmp_path / "m.pt2", "pt2", depth=2)
    assert result.parity.max_abs_diff <= 1e-4 and result.parity.top1_agreement == 1.0
    program = torch.export.load(str(result.path))
    assert block_indices(program.state_dict) == {0, 1}
    small = model.truncate(2)
    assert sum(t.numel() for t in program.state_dict.values()) == small.num_params()
    # a different batch size (dynamic axis); for text also a shorter, padded sequence
    x = small.example_input(5)
    args = (x,)
    if name.startswith("bert"):
        x = x[:, :7].clone()
        x[1, 4:] = small.config.pad_id
        args = (x, (x != small.config.pad_id).long())
    with torch.no_grad():
        want = small(x)
        got = program.module()(*args)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=0)


def test_exit_branches_stay_out_of_the_exported_file(tmp_path):
    model = tiny("mixer_s8", depth=3, exit_branches=(1, 2))
    result = export_model(model, tmp_path / "m.pt2", "pt2")
    state = torch.export.load(str(result.path)).state_dict
    assert not any(k.startswith("model.branches.") for k in state)
    plain = model.truncate(3, keep_branches=False)
    assert plain.config.exit_branches == () and list(plain.branches) == []
    assert sum(t.numel() for t in state.values()) == plain.num_params() < model.num_params()
    assert result.parity.max_abs_diff <= 1e-4


def test_pt2_all_depths_is_one_graph_and_loads_with_torch_alone(tmp_path):
    model = tiny("mixer_cifar_paper", "residual", depth=3)
    path = export_model(model, tmp_path / "all.pt2", "pt2", all_depths=True).path
    x = model.example_input(4)
    torch.save(x, tmp_path / "x.pt")
    with torch.no_grad():
        want = model.logits_per_depth(x)
    script = textwrap.dedent(
        f"""
        import sys, torch
        program = torch.export.load({str(path)!r})
        out = program.module()(torch.load({str(tmp_path / "x.pt")!r}, weights_only=True))
        assert not any(m.startswith("acn") for m in sys.modules), "acn was imported"
        torch.save(out, {str(tmp_path / "out.pt")!r})
        """
    )
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}  # no PYTHONPATH: acn unreachable
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=tmp_path)
    got = torch.load(tmp_path / "out.pt")
    assert got.shape == (4, 4, model.config.num_classes)  # depth 0..3, batch 4 (traced at 2)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=0)


def test_command_on_a_run_and_a_pretrained_dir(run, tmp_path, capsys):
    assert main(["export", str(run), "--format", "pt2", "--cutoff", "--batch-size", "16"]) == 0
    text = capsys.readouterr().out
    assert "cutoff depth" in text and "16 test inputs" in text and "top-1 agreement 100.00%" in text
    (path,) = (run / "export").glob("model.d*.pt2")
    report = json.loads(path.with_name(path.name + ".json").read_text())
    assert report["parity"]["max_abs_diff"] <= 1e-4 and report["inputs"] == "test inputs"

    model = acn.load(run)
    pre = model.save_pretrained(tmp_path / "pre")
    out = tmp_path / "deploy"
    assert main(["export", str(pre), "--format", "pt2", "--depth", "1", "--out", str(out)]) == 0
    with torch.no_grad():
        x = model.example_input(2)
        program = torch.export.load(str(out / "model.d1.pt2"))
        torch.testing.assert_close(program.module()(x), model(x, depth=1))


def listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_bad_input_is_one_line_exit_2_and_leaves_no_files(run, tmp_path, capsys, monkeypatch):
    before = listing(run)
    (tmp_path / "a_file").write_text("x")
    bad = [
        (["--format", "tflite"], "argument --format: invalid choice"),
        (
            ["--format", "pt2", "--depth", "4"],
            r"depth must be in 0\.\.3 for this 3-block model, got",
        ),
        (["--format", "pt2", "--depth", "-1"], "argument --depth: must be in 0"),
        (["--format", "pt2", "--out", str(tmp_path / "a_file")], "is a file"),
        (["--format", "pt2", "--out", str(tmp_path / "a_file" / "d")], "not a directory"),
        (["--format", "pt2", "--atol", "nan"], "argument --atol: must be a finite number"),
        (
            ["--format", "pt2", "--out", str(tmp_path / "new")],
            "differs from eager.*nothing written",
        ),
    ]
    monkeypatch.setattr("acn.export.exporter.compare", _always_off)  # a failed parity check
    for args, match in bad:
        assert main(["export", str(run), *args]) == 2, args
        err = capsys.readouterr().err.strip()
        assert err.startswith("acn: error: ") and "\n" not in err, err
        assert re.search(match, err), (match, err)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # the extra is not installed
    assert main(["export", str(run), "--format", "onnx"]) == 2
    assert 'pip install -e ".[export]"' in capsys.readouterr().err
    assert listing(run) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def _always_off(exported, eager, all_depths=False):
    return Parity(max_abs_diff=1.0, top1_agreement=0.0, num_inputs=int(eager.shape[0]))
