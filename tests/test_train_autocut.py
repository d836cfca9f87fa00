"""``acn train --auto-cut``: the cut, the optimizer state it keeps, resume, options, FLOP counting."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

import acn
import acn.cli
from _train_helpers import TINY_MODEL, tiny_config
from acn.analysis.autocut_plot import plot_auto_cut
from acn.evaluation.cutoff import bootstrap_cutoff, cutoff_depths
from acn.runs import Run
from acn.runs.config import TrainConfig
from acn.train import train
from acn.train.losses import cross_entropy
from acn.train.optim import build_optimizer, carry_optimizer
from acn.train.train_flops import step_flops

# tolerance 100: every depth is "as good", the cutoff is 0 with a [0, 0] interval, so with
# margin 1 the depth-3 model is cut to 1 block after the first evaluation, and never again
FORCED_CUT = [
    "--auto_cut.enabled=true",
    "--auto_cut.tolerance=100",
    "--auto_cut.margin=1",
    "--auto_cut.patience=1",
]


def _tiny_model() -> acn.StackModel:
    torch.manual_seed(0)
    return acn.create_model("mixer_s8", "acn", num_classes=4, **TINY_MODEL)


def test_cut_keeps_the_function_and_the_parameter_objects():
    model = _tiny_model().eval()
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        before = model.logits_per_depth(x)
    kept = [id(p) for p in model.stack.blocks[:2].parameters()]
    model.cut_(2)
    assert model.depth == model.config.depth == 2
    assert [id(p) for p in model.stack.blocks.parameters()] == kept
    with torch.no_grad():
        assert torch.equal(model(x), before[2])
        assert torch.equal(model.logits_per_depth(x), before[:3])
    # the cut model is an ordinary depth-2 model: same state-dict keys, saved and loaded as one
    fresh = type(model)(model.config)
    assert model.state_dict().keys() == fresh.state_dict().keys()


def test_cut_model_saves_and_loads_as_the_shallower_model(tmp_path):
    model = _tiny_model().eval()
    model.cut_(1)
    acn.save(model, tmp_path / "m.safetensors")
    loaded = acn.load(tmp_path / "m.safetensors").eval()
    x = torch.rand(3, 1, 8, 8)
    assert loaded.depth == 1
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_optimizer_moments_of_kept_parameters_survive_the_cut():
    model = _tiny_model()
    cfg = TrainConfig()
    opt = build_optimizer(model, cfg.optim)
    for _ in range(2):
        opt.zero_grad()
        model(torch.rand(4, 1, 8, 8)).square().mean().backward()
        opt.step()
    saved = {id(p): {k: v.clone() for k, v in opt.state[p].items()} for p in model.parameters()}
    dropped = [id(p) for p in model.stack.blocks[2].parameters()]
    model.cut_(2)
    new = carry_optimizer(opt, model, cfg.optim)
    params = [p for g in new.param_groups for p in g["params"]]
    assert {id(p) for p in params} == {id(p) for p in model.parameters()}
    assert not set(dropped) & {id(p) for p in params}
    for p in params:
        for key, value in saved[id(p)].items():  # exp_avg, exp_avg_sq and the step count
            assert torch.equal(new.state[p][key], value), key
    assert [g["weight_decay"] for g in new.param_groups] == [
        g["weight_decay"] for g in opt.param_groups
    ]


def test_training_cuts_logs_and_leaves_the_cut_model(tmp_path):
    result = train(tiny_config(tmp_path, "--epochs=3", *FORCED_CUT), log=None)
    records = Run(result.run_dir).metrics()
    assert [("cut" in r) for r in records] == [True, False, False]
    cut = records[0]["cut"]
    assert cut == {
        "step": 4,  # 56 training rows (8 went to validation) / batch 16
        "epoch": 1,
        "depth_before": 3,
        "depth_after": 1,
        "interval": [0, 0],
        "cutoff": 0,
    }
    assert [len(r["accuracy_per_depth"]) for r in records] == [4, 2, 2]
    assert [len(r["auto_cut"]["val_accuracy_per_depth"]) for r in records] == [4, 2, 2]
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["depth"] == 1 and summary["auto_cut"]["cuts"] == [cut]
    assert summary["auto_cut"]["num_val"] == 8
    assert acn.load(result.run_dir).depth == 1
    # the later commands see an ordinary depth-1 run
    run = str(result.run_dir)
    assert acn.cli.main(["probe", run, "--out", str(tmp_path / "probe"), "--bootstrap", "20"]) == 0
    assert acn.cli.main(["compress", run, "--depth", "1", "--no-time"]) == 0
    # counted FLOPs: epoch 1 at depth 3, epochs 2-3 at depth 1; 3 steps of 16 rows + 1 of 8 each;
    # a step is charged 3x its forward
    model = _tiny_model()

    def step(rows):
        return 3 * acn.cost(model)["flops"] * rows

    deep = 3 * step(16) + step(8)
    model.cut_(1)
    shallow = 3 * step(16) + step(8)
    assert result.summary["total_train_flops"] == deep + 2 * shallow


def test_resume_after_a_cut_retraces_the_uninterrupted_run(tmp_path, monkeypatch):
    full = train(tiny_config(tmp_path, "--epochs=3", *FORCED_CUT, name="full"), log=None)

    from acn.train import loop

    original = loop.Trainer.train_epoch

    def crash_at_epoch_3(self, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(loop.Trainer, "train_epoch", crash_at_epoch_3)
    cfg = tiny_config(tmp_path, "--epochs=3", *FORCED_CUT, name="resumed")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, log=None)
    monkeypatch.setattr(loop.Trainer, "train_epoch", original)
    resumed = train(cfg, resume=True, log=None)

    assert resumed.model.depth == 1
    a, b = Run(full.run_dir).metrics(), Run(resumed.run_dir).metrics()
    drop = ("time_s",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in a] == [
        {k: v for k, v in r.items() if k not in drop} for r in b
    ]
    wa = load_file(str(full.run_dir / "checkpoint" / "model.safetensors"))
    wb = load_file(str(resumed.run_dir / "checkpoint" / "model.safetensors"))
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # bitwise on CPU
    assert full.summary["total_train_flops"] == resumed.summary["total_train_flops"]


def test_a_step_costs_about_three_forwards(tmp_path):
    """The loop charges 3x the counted forward; counted op by op, a step is a bit under that."""
    model = _tiny_model()
    cfg = TrainConfig()
    x, y = torch.rand(16, 1, 8, 8), torch.randint(0, 4, (16,))
    forward = acn.cost(model)["flops"] * 16
    train_step = step_flops(model, cross_entropy, cfg, x, y)
    # the backward needs no input gradient for the first layer, so a bit under 3x
    assert 2.5 * forward < train_step <= 3 * forward
    before = [p.clone() for p in model.parameters()]
    assert all(p.grad is None for p in model.parameters())  # the model itself is untouched
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    model.cut_(1)
    assert step_flops(model, cross_entropy, cfg, x, y) < train_step


def test_best_depth_reference():
    acc = torch.tensor([[10.0, 86.0, 90.0, 85.0]])
    assert int(cutoff_depths(acc, 1.0)) == 1  # within 1 point of the last depth
    assert int(cutoff_depths(acc, 1.0, reference="best")) == 2  # ... of the best one
    correct = torch.tensor([[0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 1, 1]]).bool()
    iv = bootstrap_cutoff(correct, 0.0, 50, reference="best")
    assert (iv.cutoff, iv.low, iv.high) == (1, 1, 1)


@pytest.mark.parametrize(
    "option, match",
    [
        ("--auto_cut.patience=-1", "auto_cut.patience must be >= 1"),
        (
            "--auto_cut.margin=3",
            r"auto_cut.margin \(3\) must be smaller than the model depth \(3\)",
        ),
        ("--auto_cut.val_fraction=1.5", "auto_cut.val_fraction must be between 0 and 1"),
        ("--auto_cut.tolerance=-0.5", "auto_cut.tolerance must be >= 0"),
        # refused when the config is read, not after the first epoch's bootstrap
        ("--auto_cut.bootstrap=1000000000", r"auto_cut.bootstrap must be 1..100,000 resamples"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, option, match):
    cfg = tiny_config(tmp_path)  # writes the tiny data
    args = [f"--{k}={v}" for k, v in (("model.name", "mixer_s8"), ("data.spec", cfg.data.spec))]
    args += [f"--model.overrides.{k}={v}" for k, v in TINY_MODEL.items()]
    config = tmp_path / "c.yaml"
    config.write_text("epochs: 1\noptim: {warmup_epochs: 0}\n")
    code = acn.cli.main(
        ["train", str(config), "--auto-cut", option, *args, f"--out_dir={tmp_path}/r"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert re.search(match, err), err
    assert not (tmp_path / "r").exists()  # nothing written


def test_a_cut_never_leaves_fewer_than_one_block(tmp_path):
    """Tolerance 1e9 makes every depth, 0 included, "as good": the cut stops at one block (a
    model with none is not trained on), and the run goes on at that depth."""
    opts = ["--auto_cut.enabled=true", "--auto_cut.tolerance=1e9", "--auto_cut.patience=1"]
    result = train(tiny_config(tmp_path, "--epochs=3", *opts), log=None)
    records = Run(result.run_dir).metrics()
    assert records[0]["cut"]["cutoff"] == 0 and records[0]["cut"]["depth_after"] == 1
    assert [len(r["accuracy_per_depth"]) for r in records] == [4, 2, 2]
    assert not any("cut" in r for r in records[1:])  # at one block there is nothing to cut
    assert result.model.depth == acn.load(result.run_dir).depth == 1


@pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="needs torch.distributed with gloo",
)
def test_two_processes_cut_at_the_same_step_as_one(tmp_path):
    """Real monitor decisions (not forced): rank 0 decides, both ranks cut, DDP is rebuilt."""
    cfg = tiny_config(tmp_path)
    args = [
        "--model.name=mixer_s8",
        f"--data.spec={cfg.data.spec}",
        *(f"--model.overrides.{k}={v}" for k, v in TINY_MODEL.items()),
        "--model.overrides.depth=4",
        "--epochs=3",
        "--batch_size=16",  # global: 8 rows per process
        "--eval_batch_size=8",
        "--optim.warmup_epochs=0.5",
        "--auto_cut.tolerance=30",
        "--auto_cut.margin=1",
        "--auto_cut.patience=1",
        "--auto_cut.bootstrap=50",
    ]
    config = tmp_path / "c.yaml"
    config.write_text("model: {name: mixer_s8}\n")
    one, two = tmp_path / "one", tmp_path / "two"
    common = ["train", str(config), "--auto-cut", *args, "--no-progress"]
    assert acn.cli.main([*common, f"--out_dir={one}"]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    proc = subprocess.run(
        [*cmd, "-m", "acn", *common, f"--out_dir={two}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    ra, rb = Run(one).metrics(), Run(two).metrics()
    cuts = [r["cut"] for r in ra if "cut" in r]
    assert cuts, "the setting must cut at least once for this test to mean anything"
    assert [r.get("cut") for r in rb] == [r.get("cut") for r in ra]
    for a, b in zip(ra, rb):
        assert b["auto_cut"]["val_accuracy_per_depth"] == a["auto_cut"]["val_accuracy_per_depth"]
        assert b["accuracy_per_depth"] == pytest.approx(a["accuracy_per_depth"], abs=1e-9)
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
    ma, mb = acn.load(one), acn.load(two)
    assert ma.depth == mb.depth == cuts[-1]["depth_after"]
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (one, two))
    assert sa["total_train_flops"] == sb["total_train_flops"]  # counted for the global batch
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(mb(x), ma(x), rtol=1e-4, atol=1e-5)


def test_plot_marks_the_cuts(tmp_path):
    result = train(tiny_config(tmp_path, "--epochs=3", *FORCED_CUT), log=None)
    drawn = plot_auto_cut(Run(result.run_dir).metrics(), tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert drawn["epochs"] == [1.0, 2.0, 3.0]
    assert [len(row) for row in drawn["grid"]] == [4, 4, 4]  # cut depths padded with nan
    assert all(math.isnan(v) for v in drawn["grid"][1][2:])
    assert [c["depth_after"] for c in drawn["cuts"]] == [1]


def test_monitor_only_never_cuts(tmp_path):
    result = train(
        tiny_config(tmp_path, "--epochs=3", *FORCED_CUT, "--auto_cut.cut=false"), log=None
    )
    records = Run(result.run_dir).metrics()
    assert not any("cut" in r for r in records) and result.model.depth == 3
    assert [r["auto_cut"]["clear_evaluations"] for r in records] == [1, 2, 3]
    assert result.summary["auto_cut"]["cuts"] == []
