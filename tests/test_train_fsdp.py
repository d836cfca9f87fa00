"""torchrun on CPU (gloo) for a gpt model: FSDP2 and DDP with 2 processes compute what 1 process
computes, checkpoints are full state dicts, and an interrupted FSDP run resumes on 2 processes or
on 1 exactly where the uninterrupted run goes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import acn
from _train_helpers import TINY_MODEL, tiny_npz
from acn.runs import Run
from acn.train import load_config, train
from test_lm_train import corpus

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="needs torch.distributed with gloo",
)
HERE = Path(__file__).parent


def args(tmp_path, epochs: int) -> list[str]:
    text = tmp_path / "t.txt"
    if not text.exists():
        corpus(text)
    tiny = {"depth": 3, "dim": 32, "num_heads": 2, "max_len": 16, "tie_embeddings": "false"}
    return [
        "--model.name=gpt_char",
        "--model.connectivity=acn",
        *(f"--model.overrides.{k}={v}" for k, v in tiny.items()),
        f"--data.spec=lm:{text}",
        "--data.options.train_windows=64",
        "--augment.crop_padding=0",
        "--augment.flip=false",
        "--augment.cutmix_prob=0",
        "--optim.label_smoothing=0",
        "--optim.lr=3e-3",
        "--optim.warmup_epochs=0.5",
        f"--epochs={epochs}",
        "--batch_size=16",  # global: 8 rows per process
        "--eval_batch_size=8",
        "--loss=exits",  # every depth through the shared head: the per-depth method path
    ]


def config(tmp_path) -> str:
    path = tmp_path / "c.yaml"
    path.write_text("{}\n")  # everything is in the command line
    return str(path)


def torchrun(tmp_path, extra: list[str], stop_at: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ACN_CACHE_DIR": str(tmp_path / "cache")}
    if stop_at is not None:
        env["ACN_STOP_AT_EPOCH"] = str(stop_at)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += [str(HERE / "_torchrun_train.py"), "train", *extra, "--no-progress"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def one_process(tmp_path, epochs: int, name: str):
    os.environ.setdefault("ACN_CACHE_DIR", str(tmp_path / "cache"))
    cfg = load_config(None, [*args(tmp_path, epochs), f"--out_dir={tmp_path / name}"])
    return train(cfg, log=None)


def assert_same_run(a: Path, b: Path, rel: float = 1e-4) -> None:
    ra, rb = Run(a).metrics(), Run(b).metrics()
    assert [r["step"] for r in ra] == [r["step"] for r in rb]
    for x, y in zip(ra, rb):
        assert y["train_loss"] == pytest.approx(x["train_loss"], rel=rel)
        assert y["loss_per_depth"] == pytest.approx(x["loss_per_depth"], rel=rel)
        assert y["grad_norm_per_block"] == pytest.approx(x["grad_norm_per_block"], rel=1e-3)
    wa = load_file(str(a / "checkpoint" / "model.safetensors"))
    wb = load_file(str(b / "checkpoint" / "model.safetensors"))
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(
            wb[k], wa[k], rtol=1e-4, atol=1e-5, msg=lambda m, k=k: f"{k}: {m}"
        )


@pytest.mark.parametrize("strategy", ["fsdp", "ddp"])
def test_two_processes_match_one(tmp_path, monkeypatch, strategy):
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))
    one = one_process(tmp_path, 2, "one").run_dir
    two = tmp_path / "two"
    extra = [config(tmp_path), *args(tmp_path, 2), f"--out_dir={two}", f"--strategy={strategy}"]
    done = torchrun(tmp_path, extra)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_run(one, two)
    state = torch.load(two / "checkpoint" / "state.pt", weights_only=True)
    assert state["world_size"] == 2
    assert ("fsdp" in state["optimizer"]) == (strategy == "fsdp")
    model = acn.load(two)  # the model file is a full, ordinary one
    assert model.depth == 3 and model.pretrained_cfg["tokenizer"]


def test_an_interrupted_fsdp_run_resumes_exactly_on_two_processes_or_one(tmp_path, monkeypatch):
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))
    full = one_process(tmp_path, 3, "full").run_dir
    cut = tmp_path / "cut"
    stopped = torchrun(
        tmp_path,
        [config(tmp_path), *args(tmp_path, 3), f"--out_dir={cut}", "--strategy=fsdp"],
        stop_at=2,
    )
    assert stopped.returncode != 0
    assert [r["epoch"] for r in Run(cut).metrics()] == [1, 2]
    on_one = tmp_path / "cut-on-one"
    shutil.copytree(cut, on_one, symlinks=True)
    resumed = torchrun(tmp_path, ["--resume", str(cut)])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(full, cut)
    # the same checkpoint, resumed by one process (strategy fsdp needs no process group there)
    cfg = load_config(on_one / "config.yaml")
    cfg.out_dir = str(on_one)
    train(cfg, resume=True, log=None)
    assert_same_run(full, on_one)
    assert json.loads((on_one / "summary.json").read_text())["world_size"] == 1


def test_layer_dropout_trains_under_fsdp(tmp_path, monkeypatch):
    """LayerSkip's layer dropout computes every block and masks the skipped rows, so no rank
    waits on a collective another skipped; its masks depend on the shard, so only completion and
    a finite loss are checked."""
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "ls"
    extra = [config(tmp_path), *args(tmp_path, 1), f"--out_dir={out}", "--strategy=fsdp"]
    done = torchrun(tmp_path, [*extra, "--loss=layerskip", "--loss_options.p_max=0.5"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert all(r["train_loss"] == r["train_loss"] for r in Run(out).metrics())


def test_fsdp_trains_a_classifier_family_as_one_process_does(tmp_path):
    """Any family, here the paper-style Mixer (its head has parameters: an FSDP unit of its own)."""
    data = tiny_npz(tmp_path / "tiny.npz")
    common = [
        "--model.name=mixer_s8",
        f"--data.spec=npz:{data}",
        *(f"--model.overrides.{k}={v}" for k, v in TINY_MODEL.items()),
        "--epochs=2",
        "--batch_size=16",
        "--eval_batch_size=8",
        "--optim.warmup_epochs=0.5",
    ]
    one = train(load_config(None, [*common, f"--out_dir={tmp_path / 'one'}"]), log=None).run_dir
    two = tmp_path / "two"
    done = torchrun(tmp_path, [config(tmp_path), *common, f"--out_dir={two}", "--strategy=fsdp"])
    assert done.returncode == 0, done.stderr[-3000:]
    ra, rb = Run(one).metrics(), Run(two).metrics()
    for x, y in zip(ra, rb):
        assert y["accuracy_per_depth"] == pytest.approx(x["accuracy_per_depth"], abs=1e-9)
        assert y["train_loss"] == pytest.approx(x["train_loss"], rel=1e-4)
