"""Masked-LM training: `text:FILE` data, masking, token-level loss and per-depth evaluation."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from _words import WORDS
from acn.errors import ConfigError, DataError
from acn.evaluation import evaluate_per_depth
from acn.models import create_model
from acn.runs import Run
from acn.runs.inputs import load_train_data
from acn.train import load_config, train
from acn.train.distributed import DistContext, TrainingModel
from acn.train.losses import cross_entropy

TINY = {"depth": 2, "dim": 32, "num_heads": 2, "mlp_hidden": 64}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))


def corpus(path):
    lines = [
        " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(4 + i % 9)) for i in range(300)
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def mlm_config(tmp_path, *extra, name="run"):
    text = tmp_path / "corpus.txt"
    if not text.exists():
        corpus(text)
    return load_config(
        None,
        [
            "--model.name=bert_tiny_mlm",
            f"--data.spec=text:{text}",
            "--data.options.vocab_size=60",
            "--data.options.max_len=16",
            "--epochs=2",
            "--batch_size=32",
            "--eval_batch_size=16",
            "--optim.lr=3e-3",
            "--optim.warmup_epochs=0.5",
            f"--out_dir={tmp_path / name}",
            *(f"--model.overrides.{k}={v}" for k, v in TINY.items()),
            *extra,
        ],
    )


def test_mlm_run_writes_per_depth_masked_accuracy(tmp_path):
    result = train(mlm_config(tmp_path), log=None)
    records = Run(result.run_dir).metrics()
    assert [r["epoch"] for r in records] == [1, 2]
    for r in records:
        assert len(r["accuracy_per_depth"]) == TINY["depth"] + 1
        assert all(0 <= a <= 100 for a in r["accuracy_per_depth"])
        assert math.isfinite(r["train_loss"]) and math.isfinite(r["test_loss"])
    assert records[-1]["train_loss"] < math.log(60)  # learned something beyond uniform
    assert result.summary["accuracy_per_depth"] == records[-1]["accuracy_per_depth"]


def test_mlm_batches_are_masked_deterministically(tmp_path):
    data = load_train_data(mlm_config(tmp_path))
    info, x = data.info, data.splits.train.x[:32]
    a = data.prepare(x, x, True, torch.Generator().manual_seed(5), 2)
    b = data.prepare(x, x, True, torch.Generator().manual_seed(5), 2)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    inputs, labels = a
    scored = labels != -100
    assert scored.any() and torch.equal(labels[scored], x[scored])
    assert not torch.isin(x[scored], torch.tensor(info["special_ids"])).any()
    assert torch.equal(inputs[~scored], x[~scored])
    # the test split: the same masks whatever the batch size or the rows a process evaluates
    whole = [torch.cat(t) for t in zip(*data.test_batches(1000, torch.device("cpu")))]
    n = len(whole[0])
    parts = [*data.test_batches(3, torch.device("cpu"), (0, n // 2))]
    parts += [*data.test_batches(5, torch.device("cpu"), (n // 2, n))]
    again = [torch.cat(t) for t in zip(*parts)]
    assert all(torch.equal(u, v) for u, v in zip(whole, again))
    assert (whole[1] != -100).any()


def test_mlm_resume_retraces_the_uninterrupted_run(tmp_path, monkeypatch):
    full = train(mlm_config(tmp_path, name="full"), log=None)
    from acn.train import loop

    original = loop.Trainer.train_epoch

    def crash_at_epoch_2(self, epoch):
        if epoch == 1:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(loop.Trainer, "train_epoch", crash_at_epoch_2)
    cfg = mlm_config(tmp_path, name="cut")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, log=None)
    monkeypatch.setattr(loop.Trainer, "train_epoch", original)
    resumed = train(cfg, resume=True, log=None)
    keys = ("step", "train_loss", "test_loss", "accuracy_per_depth")
    a, b = Run(full.run_dir).metrics(), Run(resumed.run_dir).metrics()
    assert [{k: r[k] for k in keys} for r in a] == [{k: r[k] for k in keys} for r in b]
    wa = load_file(str(full.run_dir / "checkpoint" / "model.safetensors"))
    wb = load_file(str(resumed.run_dir / "checkpoint" / "model.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


class FixedLogits(nn.Module):
    """A stand-in model whose per-depth token logits [L+1, B, T, V] are given (head = identity)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits
        self.head = nn.Identity()
        self.config = SimpleNamespace(num_classes=2, name="fixed")
        self.weight = nn.Parameter(torch.zeros(1))

    def features_per_depth(self, x, on_step=None):
        return self.logits

    def logits_per_depth(self, x, on_step=None):
        return self.head(self.features_per_depth(x, on_step))


def test_evaluate_per_depth_scores_masked_tokens_only():
    # 2 depths (L=1), 1 sequence of 4 tokens, vocab 3; targets at positions 1 and 3 only
    pred = torch.tensor([[0, 1, 2, 0], [2, 1, 0, 2]])  # argmax per depth and position
    logits = torch.nn.functional.one_hot(pred, 3).float()[:, None] * 5.0  # [2, 1, 4, 3]
    y = torch.tensor([[-100, 1, -100, 2]])
    ev = evaluate_per_depth(FixedLogits(logits), [(torch.zeros(1, 4, dtype=torch.long), y)])
    assert ev.correct.shape == (2, 2) and ev.num_samples == 2
    assert ev.accuracy == [50.0, 100.0]  # over all 4 positions: 25% and 50%
    assert torch.equal(ev.labels, torch.tensor([1, 2]))
    full = logits[-1, 0]
    want = torch.nn.functional.cross_entropy(full[[1, 3]], torch.tensor([1, 2]))
    assert ev.loss == pytest.approx(float(want))
    bad = torch.tensor([[-100, 1, -100, 3]])  # token 3 is outside the vocabulary of 3
    with pytest.raises(DataError, match="does not fit a model with 3 classes"):
        evaluate_per_depth(FixedLogits(logits), [(torch.zeros(1, 4, dtype=torch.long), bad)])


def test_evaluate_real_bert_matches_logits_per_depth(tmp_path):
    data = load_train_data(mlm_config(tmp_path))
    from acn.models.registry import create_model

    model = create_model("bert_tiny_mlm", "acn", vocab_size=60, max_len=16, **TINY).eval()
    x, y = next(data.test_batches(8, torch.device("cpu")))
    ev = evaluate_per_depth(model, [(x, y)])
    with torch.no_grad():
        logits = model.logits_per_depth(x)  # [L+1, B, T, V]
    scored = y != -100
    want = (logits.argmax(-1) == y)[:, scored]
    assert torch.equal(ev.correct, want)
    assert ev.loss == pytest.approx(
        float(nn.functional.cross_entropy(logits[-1][scored], y[scored]))
    )


def test_ce_loss_on_tokens_is_the_full_logits_loss_at_the_scored_positions():
    # the loss runs the head only where labels are scored; the oracle is model(x), which runs
    # it everywhere
    torch.manual_seed(0)
    model = create_model("bert_tiny_mlm", "acn", vocab_size=50, max_len=8, **TINY)
    x = torch.randint(5, 50, (2, 8))
    y = torch.full((2, 8), -100)
    y[0, 1], y[1, 4], y[1, 6] = 7, 9, 11
    cfg = SimpleNamespace(optim=SimpleNamespace(label_smoothing=0.1))
    wrapped = TrainingModel(model, DistContext(), torch.device("cpu"))
    loss, out = cross_entropy(wrapped, x, y, cfg)
    full = model(x)  # [B, T, V]
    scored = y != -100
    want = nn.functional.cross_entropy(full[scored], y[scored], label_smoothing=0.1)
    assert out.shape == (3, 50) and torch.allclose(out, full[scored], atol=1e-5)
    assert torch.allclose(loss, want, atol=1e-6)
    empty, _ = cross_entropy(wrapped, x, torch.full((2, 8), -100), cfg)
    assert float(empty.detach()) == 0.0


def test_mlm_data_needs_an_mlm_head(tmp_path):
    cfg = mlm_config(tmp_path, "--model.name=bert_tiny")
    with pytest.raises(DataError, match="needs a model with head='mlm'") as info:
        train(cfg, log=None)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="need labelled data"):
        train(mlm_config(tmp_path, "--data.per_class=3", name="pc"), log=None)
