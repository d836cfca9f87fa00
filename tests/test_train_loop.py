"""The training loop: run files, metrics, resume, divergence and data checks."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

import acn
from _train_helpers import tiny_config
from acn.errors import CheckpointError, ConfigError, DataError, TrainingDivergedError
from acn.runs import Run
from acn.train import load_config, register_loss, train
from acn.train.losses import LOSSES, cross_entropy


def _weights(run_dir):
    return load_file(str(run_dir / "checkpoint" / "model.safetensors"))


def test_run_directory_and_metrics(tmp_path, capsys):
    cfg = tiny_config(tmp_path, "--dg_share=true", "--dg_share_batch=8")
    result = train(cfg, log=None)
    assert capsys.readouterr().err == ""  # no progress bars when stderr is not a terminal
    run = result.run_dir
    assert {p.name for p in run.iterdir()} == {
        "config.yaml",
        "metrics.jsonl",
        "checkpoint",
        "checkpoints",
        "summary.json",
    }
    # the checkpoint is one step directory behind a pointer; nothing else is left behind
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-00000008"]
    assert {p.name for p in (run / "checkpoint").iterdir()} == {
        "model.safetensors",
        "state.pt",
        "checksums.json",
    }
    records = Run(run).metrics()
    assert [r["epoch"] for r in records] == [1, 2]
    assert [r["step"] for r in records] == [4, 8]  # 64 rows / batch 16
    depth = result.model.depth
    for r in records:
        assert len(r["accuracy_per_depth"]) == depth + 1
        assert r["accuracy"] == r["accuracy_per_depth"][-1]
        assert len(r["grad_norm_per_block"]) == depth
        assert all(g > 0 for g in r["grad_norm_per_block"])
        assert len(r["dg_share"]) == depth
    summary = json.loads((run / "summary.json").read_text())
    assert summary["accuracy_per_depth"] == records[-1]["accuracy_per_depth"]
    assert summary["seed"] == 0 and summary["machine"]["torch"] == torch.__version__
    model = acn.load(run)
    assert model.num_params() == summary["params"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, result.model.state_dict()[k])


def test_resume_retraces_the_uninterrupted_run(tmp_path, monkeypatch):
    full = train(tiny_config(tmp_path, "--epochs=3", name="full"), log=None)

    # the same run, killed at the start of its third epoch ...
    from acn.train import loop

    original = loop.Trainer.train_epoch

    def crash_at_epoch_3(self, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(loop.Trainer, "train_epoch", crash_at_epoch_3)
    cfg = tiny_config(tmp_path, "--epochs=3", name="cut")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, log=None)
    monkeypatch.setattr(loop.Trainer, "train_epoch", original)
    assert [r["epoch"] for r in Run(cfg.out_dir).metrics()] == [1, 2]

    # ... and resumed
    resumed = train(cfg, resume=True, log=None)
    a, b = Run(full.run_dir).metrics(), Run(resumed.run_dir).metrics()
    keys = ("epoch", "step", "lr", "train_loss", "test_loss", "accuracy_per_depth")
    assert [{k: r[k] for k in keys} for r in a] == [{k: r[k] for k in keys} for r in b]
    assert [r["grad_norm_per_block"] for r in a] == [r["grad_norm_per_block"] for r in b]
    wa, wb = _weights(full.run_dir), _weights(resumed.run_dir)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # bitwise on CPU


def test_existing_run_is_not_overwritten(tmp_path):
    cfg = tiny_config(tmp_path, "--epochs=1")
    train(cfg, log=None)
    before = (tmp_path / "run" / "metrics.jsonl").read_bytes()
    with pytest.raises(ConfigError, match="already holds a run; continue it with --resume"):
        train(cfg, log=None)
    assert (tmp_path / "run" / "metrics.jsonl").read_bytes() == before


def test_nan_loss_stops_with_the_last_checkpoint_intact(tmp_path):
    calls = {"n": 0}

    def nan_in_epoch_2(model, x, y, cfg):
        calls["n"] += 1
        loss, logits = cross_entropy(model, x, y, cfg)
        return (loss * float("nan") if calls["n"] == 6 else loss), logits

    register_loss("test_nan_in_epoch_2", nan_in_epoch_2)
    try:
        cfg = tiny_config(tmp_path, "--loss=test_nan_in_epoch_2", "--epochs=3")
        with pytest.raises(TrainingDivergedError) as info:
            train(cfg, log=None)
    finally:
        LOSSES.pop("test_nan_in_epoch_2")
    message = str(info.value)
    assert "loss became nan at epoch 2, step 6" in message
    assert "last good checkpoint" in message and "\n" not in message
    state = torch.load(tmp_path / "run" / "checkpoint" / "state.pt", weights_only=True)
    assert state["epoch"] == 1 and state["step"] == 4
    assert acn.load(tmp_path / "run")  # the epoch-1 weights still load
    assert [r["epoch"] for r in Run(tmp_path / "run").metrics()] == [1]


def test_huge_learning_rate_diverges(tmp_path):
    cfg = tiny_config(tmp_path, "--optim.lr=1e12", "--optim.min_lr=0", "--optim.grad_clip=0")
    with pytest.raises(TrainingDivergedError, match="loss became (nan|inf)"):
        train(cfg, log=None)


def test_registered_loss_is_used(tmp_path):
    seen = []

    def spy(model, x, y, cfg):
        seen.append((tuple(x.shape), cfg.loss_options["tag"]))
        return cross_entropy(model, x, y, cfg)

    register_loss("test_spy", spy)
    try:
        train(
            tiny_config(tmp_path, "--loss=test_spy", "--loss_options.tag=t", "--epochs=1"), log=None
        )
    finally:
        LOSSES.pop("test_spy")
    assert seen == [((16, 1, 8, 8), "t")] * 4


def test_unknown_loss(tmp_path):
    with pytest.raises(ConfigError, match="unknown loss 'nope'; valid: .*ce"):
        train(tiny_config(tmp_path, "--loss=nope"), log=None)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ("--model.overrides.image_size=16",),
            r"inputs of shape \[1, 8, 8\] but model mixer_s8 expects \[1, 16, 16\]",
        ),
        (
            ("--model.overrides.num_classes=3",),
            r"label 3 .*does not fit a model with 3 classes|labels range 0..3 does not fit a model with 3 classes",
        ),
        (("--model.name=bert_tiny", "--model.overrides={}"), r"model bert_tiny expects \[64\]"),
    ],
)
def test_data_that_does_not_fit_fails_before_training(tmp_path, extra, message):
    cfg = tiny_config(tmp_path, *extra)
    with pytest.raises(DataError, match=message) as info:
        train(cfg, log=None)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


def test_class_subset_sets_num_classes(tmp_path):
    result = train(tiny_config(tmp_path, "--data.classes=2", "--epochs=1"), log=None)
    assert result.model.config.num_classes == 2
    assert result.summary["data"].endswith("2 classes, 32 train / 16 test")


def test_non_finite_weights_are_never_checkpointed(tmp_path, monkeypatch):
    from acn.train import loop

    original = loop.Trainer.train_epoch

    def poison_in_epoch_2(self, epoch):
        original(self, epoch)
        if epoch == 1:
            with torch.no_grad():
                self.model.head.bias.fill_(float("inf"))

    monkeypatch.setattr(loop.Trainer, "train_epoch", poison_in_epoch_2)
    match = r"weights became non-finite by epoch 2.*checkpoint \(.*, epoch 1\) is intact"
    with pytest.raises(TrainingDivergedError, match=match):
        train(tiny_config(tmp_path), log=None)
    state = torch.load(tmp_path / "run" / "checkpoint" / "state.pt", weights_only=True)
    assert state["epoch"] == 1
    assert torch.isfinite(acn.load(tmp_path / "run").head.bias).all()


def _tiny_tsv(directory):
    directory.mkdir()
    words = {0: "bad dull awful", 1: "good fine great"}
    for name, n in (("train.tsv", 32), ("test.tsv", 16)):
        rows = [f"{words[i % 2]} {i}\t{i % 2}" for i in range(n)]
        (directory / name).write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
    return directory


def test_text_classification_takes_vocabulary_from_the_data(tmp_path):
    tsv = _tiny_tsv(tmp_path / "tsv")
    base = [
        "--model.name=bert_tiny",
        "--model.overrides={depth: 2, dim: 16, num_heads: 2, mlp_hidden: 32}",
        f"--data.spec=tsv:{tsv}",
        f"--data.options={{max_len: 12, vocab_size: 60, cache_dir: {tmp_path / 'cache'}}}",
        "--epochs=1",
        "--batch_size=16",
        "--optim.warmup_epochs=0",
    ]
    cfg = load_config(None, [*base, f"--out_dir={tmp_path / 'run'}"])
    result = train(cfg, log=None)
    c = result.model.config
    assert (c.num_classes, c.max_len) == (2, 12) and c.vocab_size <= 60
    assert len(result.summary["accuracy_per_depth"]) == 3
    small = load_config(None, [*base, "--model.overrides={vocab_size: 10}"])
    with pytest.raises(DataError, match="does not fit the model's vocab_size 10"):
        train(small, log=None)


def test_failed_checkpoint_write_is_one_line_and_keeps_the_previous(tmp_path, monkeypatch):
    real, calls = torch.save, {"n": 0}

    def disk_full_on_second_save(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "save", disk_full_on_second_save)
    with pytest.raises(CheckpointError, match=r"cannot write checkpoint .*No space left on device"):
        train(tiny_config(tmp_path), log=None)
    assert torch.load(tmp_path / "run" / "checkpoint" / "state.pt", weights_only=True)["epoch"] == 1
