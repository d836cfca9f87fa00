"""The exit loss under torchrun DDP (CPU, gloo): every exit head is in the loss, so a branch model
trains without find_unused_parameters, and 2 processes compute what 1 process computes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import acn.cli
from _train_helpers import TINY_MODEL, tiny_npz
from acn.runs import Run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
        reason="needs torch.distributed with gloo",
    ),
]


def test_branch_model_trains_under_ddp(tmp_path):
    data = tiny_npz(tmp_path / "tiny.npz")
    config = tmp_path / "c.yaml"
    config.write_text("model: {name: mixer_s8}\nloss: exits\n")
    args = [
        str(config),
        f"--data.spec=npz:{data}",
        *(f"--model.overrides.{k}={v}" for k, v in TINY_MODEL.items()),
        "--model.overrides.exit_branches=[1,2]",
        "--epochs=2",
        "--batch_size=16",
        "--eval_batch_size=8",
        "--optim.warmup_epochs=0.5",
        "--augment.cutmix_prob=0",
        "--no-progress",
    ]
    one, two = tmp_path / "one", tmp_path / "two"
    assert acn.cli.main(["train", *args, f"--out_dir={one}"]) == 0
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "acn", "train", *args, f"--out_dir={two}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ra, rb = Run(one).metrics(), Run(two).metrics()
    assert [r["step"] for r in rb] == [r["step"] for r in ra] == [4, 8]
    for a, b in zip(ra, rb):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert b["accuracy_per_depth"] == pytest.approx(a["accuracy_per_depth"], abs=1e-9)
    ma, mb = acn.load(one), acn.load(two)
    assert mb.config.exit_branches == (1, 2)
    # the branch heads run outside DDP's forward; their gradients must still be all-reduced
    for key, value in ma.branches.state_dict().items():
        torch.testing.assert_close(mb.branches.state_dict()[key], value, rtol=1e-4, atol=1e-5)
