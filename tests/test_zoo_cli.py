"""The connectivity modes through the tools: `acn train` (with the direct-gradient share),
`acn probe`, `acn cost`, export to pt2 and ONNX, and their bad input (one line, exit 2)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch
import yaml

import acn
from _export_helpers import tiny
from _train_helpers import TINY_MODEL, tiny_npz
from acn.cli import main
from acn.compress.cost import cost
from acn.evaluation import evaluate_per_depth
from acn.export import export_model
from acn.runs import Run
from acn.runs.evaldata import eval_config, load_eval_data

NEW_MODES = ["hacn", "hyper", "hyper-dynamic", "laurel", "laurel-lr"]  # the Mixer takes these


def write_config(tmp_path, mode: str, **overrides) -> str:
    data = tiny_npz(tmp_path / "tiny.npz")
    values = {
        "model": {
            "name": "mixer_s8",
            "connectivity": mode,
            "overrides": {**TINY_MODEL, "hyper_streams": 2, "laurel_rank": 4, **overrides},
        },
        "data": {"spec": f"npz:{data}"},
        "optim": {"warmup_epochs": 0.5},
        "epochs": 1,
        "batch_size": 16,
        "eval_batch_size": 16,
        "dg_share": True,
        "out_dir": str(tmp_path / "run"),
    }
    path = tmp_path / f"{mode}.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def one_line_error(capsys, argv: list[str], match: str) -> None:
    assert main(argv) == 2, argv
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("acn: error: ") and "\n" not in err, err
    assert "Traceback" not in captured.err + captured.out
    assert re.search(match, err), err


@pytest.mark.parametrize("mode", NEW_MODES)
def test_train_logs_the_dg_share_and_probe_reads_every_depth(mode, tmp_path, capsys):
    assert main(["train", write_config(tmp_path, mode), "--no-progress"]) == 0
    run = tmp_path / "run"
    (record,) = Run(run).metrics()
    shares = record["dg_share"]
    model = acn.load(run)
    assert model.config.connectivity == mode and len(shares) == model.depth
    assert all(s >= 0 for s in shares) and shares[-1] == pytest.approx(1.0, rel=1e-5)
    capsys.readouterr()
    assert main(["probe", str(run), "--bootstrap", "20"]) == 0
    assert f"({mode})" in capsys.readouterr().out
    data = load_eval_data(eval_config(run))
    ev = evaluate_per_depth(model, data.batches(64))
    probe = json.loads((run / "probe" / "run.json").read_text())
    assert probe["accuracy"] == pytest.approx(ev.accuracy)


@pytest.mark.parametrize(
    ("mode", "overrides", "match"),
    [
        ("hyperx", {}, "unknown connectivity 'hyperx'"),
        ("hyper", {"hyper_streams": 0}, "model option hyper_streams must be in 1.."),
        ("hyper-dynamic", {"hyper_streams": 100}, "hyper-connections need 1..64 streams"),
        ("laurel-lr", {"laurel_rank": 99}, "laurel_rank 99 is larger than the width 16"),
        ("value-residual", {}, "'value-residual' is not defined for mixer models"),
        ("hacn", {"hacn_alpha": 2.0}, r"hacn_alpha must be in \[0, 1\]"),
    ],
)
def test_bad_modes_and_options_are_one_line_and_write_nothing(
    mode, overrides, match, tmp_path, capsys
):
    config = write_config(tmp_path, mode, **overrides)
    one_line_error(capsys, ["train", config, "--no-progress"], match)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("preset", "mode", "match"),
    [
        ("mlp_s4", "value-residual", "'value-residual' is not defined for mlp models"),
        ("bert_tiny", "hacn", "'hacn' is not defined for bert models: post-LN"),
        ("bert_tiny", "hyper-dynamic", "'hyper-dynamic' is not defined for bert models"),
        ("mixer_s8", "hyperx", "argument --connectivity: invalid choice"),
    ],
)
def test_cost_refuses_a_mode_a_family_does_not_define(preset, mode, match, capsys):
    one_line_error(capsys, ["cost", preset, "--connectivity", mode, "--no-time"], match)


def test_cost_counts_the_wiring_parameters_and_flops(capsys):
    residual = cost(tiny("vit_tiny_cifar", "residual", depth=3))
    for mode, extra_params in [
        ("hacn", 3),  # one alpha a block
        ("laurel", 3 * 2 * 2),  # (a, b) per sub-layer
        ("laurel-lr", 3 * 2 * 2 * 16 * 4),  # U, V of rank 4 at width 16 per sub-layer
        ("hyper", 3 * 2 * 2 * (2 + 2)),  # n (n + 2) per sub-layer, n = 2
    ]:
        report = cost(tiny("vit_tiny_cifar", mode, depth=3, hyper_streams=2, laurel_rank=4))
        assert report["wiring_params"] == extra_params
        assert report["params"] == residual["params"] + extra_params
        # FLOPs: only LAuReL-LR's and the hyper-connections' matrix products add any
        added = report["flops"] - residual["flops"]
        tokens, d = (16 // 4) ** 2 + 1, 16
        want = {
            "hacn": 0,
            "laurel": 0,
            "laurel-lr": 3 * 2 * 2 * (2 * tokens * d * 4),
            "hyper": 3 * 2 * (2 * tokens * 3 * 2 * d),
        }[mode]
        assert added == want, mode
    assert main(["cost", "mlp_s4", "--connectivity", "hyper", "--no-time"]) == 0
    assert re.search(r"of the wiring\s+\S+ \(\d+\.\d+%\)", capsys.readouterr().out)


EXPORTED = [
    ("vit_tiny_cifar", "hacn"),
    ("mixer_cifar_paper", "hacn"),
    ("mixer_cifar_paper", "hyper"),
    ("vit_tiny_cifar", "hyper-dynamic"),
    ("bert_tiny", "laurel"),
    ("mlp_s4", "laurel-lr"),
    ("bert_tiny", "value-residual"),
]


@pytest.mark.parametrize(("name", "mode"), EXPORTED)
def test_pt2_export_matches_eager_at_another_batch(name, mode, tmp_path):
    model = tiny(name, mode, depth=2)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    result = export_model(model, tmp_path / "m.pt2", "pt2", depth=None)
    assert result.parity.max_abs_diff <= 1e-4 and result.parity.top1_agreement == 1.0
    x = model.example_input(5)
    args = (x, (x != model.config.pad_id).long()) if name.startswith("bert") else (x,)
    with torch.no_grad():
        got = torch.export.load(str(result.path)).module()(*args)
        torch.testing.assert_close(got, model(x), atol=1e-4, rtol=0)


@pytest.mark.parametrize(("name", "mode"), EXPORTED)
def test_onnx_export_matches_eager(name, mode, tmp_path):
    pytest.importorskip("onnxruntime", reason='ONNX export needs the export extra (".[export]")')
    model = tiny(name, mode, depth=2)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    result = export_model(model, tmp_path / "m.onnx", "onnx", depth=None)
    assert result.parity.max_abs_diff <= 1e-4 and result.parity.top1_agreement == 1.0


@pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="needs torch.distributed with gloo",
)
def test_hacn_trains_under_ddp_as_on_one_process(tmp_path):
    """The attention-skip variant's last gate scales a stream nothing reads; DDP (without
    find_unused_parameters) still sees it used, and 2 processes compute what 1 does."""
    data = tiny_npz(tmp_path / "tiny.npz")
    args = [
        f"--data.spec=npz:{data}",
        *(f"--model.overrides.{k}={v}" for k, v in TINY_MODEL.items()),
        "--model.overrides.tail=false",
        "--model.connectivity=hacn",
        "--epochs=2",
        "--batch_size=16",
        "--eval_batch_size=8",
        "--optim.warmup_epochs=0.5",
        "--no-progress",
    ]
    config = tmp_path / "c.yaml"
    config.write_text("model: {name: mixer_s8}\n")
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["train", str(config), *args, f"--out_dir={one}"]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "acn", "train", str(config), *args, f"--out_dir={two}"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for a, b in zip(Run(one).metrics(), Run(two).metrics()):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert b["accuracy_per_depth"] == pytest.approx(a["accuracy_per_depth"], abs=1e-9)
