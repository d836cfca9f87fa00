"""BERT pretraining that learns: the masked-LM gate, corpora of several files, pre-LN BERT and
fine-tuning that reads its pretrained model's tokenizer."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

import acn
from _words import WORDS
from acn.analysis.pretraining import pretraining_gate
from acn.data import load_data
from acn.errors import ConfigError, DataError
from acn.evaluation import DepthEvaluation, masked_lm_gate
from acn.evaluation.masked_lm import gate_from_evaluation, unigram_rate
from acn.models import create_model
from acn.runs import Run
from acn.runs.inputs import load_train_data
from acn.train import load_config, train

TINY = {"depth": 2, "dim": 32, "num_heads": 2, "mlp_hidden": 64}
CLS, SEP, PAD, MASK = 2, 3, 0, 4


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))


def sentence(i: int) -> str:
    return " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(3 + i % 6))


def write_tsv(path, column: str, n: int, offset: int = 0):
    rows = [f"{column}\tlabel"] + [f"{sentence(i + offset)}\t{i % 2}" for i in range(n)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_unigram_rate_is_the_most_frequent_labels_share():
    assert unigram_rate(torch.tensor([5, 5, 7, 9])) == (50.0, 5)
    assert unigram_rate(torch.tensor([9, 7, 7, 9, 1])) == (40.0, 7)  # ties: the smallest id
    with pytest.raises(ConfigError, match="no scored tokens"):
        unigram_rate(torch.tensor([], dtype=torch.long))


def test_gate_passes_only_above_the_unigram_rate_by_the_margin():
    labels = torch.tensor([5] * 30 + [6, 7, 8, 9] * 17 + [10, 11])  # 100 tokens, unigram 30 %
    correct = torch.zeros(3, 100, dtype=torch.bool)
    correct[2, :36] = True  # full depth: 36 %
    hidden = torch.ones(100, dtype=torch.bool)
    gate = gate_from_evaluation(DepthEvaluation(correct, 1.0, labels), hidden, margin=5.0)
    assert gate.unigram_rate == 30.0 and gate.accuracy == 36.0 and gate.passed
    assert not gate_from_evaluation(DepthEvaluation(correct, 1.0, labels), hidden, 6.0).passed
    assert gate.to_dict()["excess"] == pytest.approx(6.0)
    with pytest.raises(ConfigError, match="margin"):
        gate_from_evaluation(DepthEvaluation(correct, 1.0, labels), hidden, float("nan"))


def test_gate_scores_only_the_mask_inputs():
    # 10 scored tokens: 8 [MASK] inputs (2 right), 2 unchanged inputs (both right, as a model that
    # copies its input gets them): over the [MASK] positions 25 %, over all 40 %
    labels = torch.tensor([5, 5, 5, 6, 7, 8, 9, 10, 11, 12])
    correct = torch.zeros(2, 10, dtype=torch.bool)
    correct[1, [0, 3, 8, 9]] = True
    hidden = torch.tensor([True] * 8 + [False] * 2)
    gate = gate_from_evaluation(DepthEvaluation(correct, 1.0, labels), hidden, margin=0.0)
    assert gate.accuracy == 25.0 and gate.all_scored_accuracy == 40.0
    assert gate.unigram_rate == 37.5 and gate.num_tokens == 8 and not gate.passed


def test_a_collapsed_encoder_fails_the_gate_at_any_margin():
    # a masked-LM model that predicts one token everywhere, whichever token that is
    torch.manual_seed(0)
    model = create_model("bert_tiny_mlm", "residual", vocab_size=40, max_len=12, **TINY).eval()
    ids = torch.randint(5, 40, (64, 12))
    scored = torch.rand(ids.shape) < 0.3
    labels = torch.where(scored, ids, torch.full_like(ids, -100))
    inputs = torch.where(scored, torch.full_like(ids, MASK), ids)
    top = unigram_rate(labels[scored])[1]
    for token in (top, 7):
        with torch.no_grad():
            model.head.bias.zero_()
            model.head.bias[token] = 1e4  # dominates every logit: the output is constant
        gate = masked_lm_gate(model, [(inputs, labels)], margin=0.0)
        assert gate.accuracy <= gate.unigram_rate and not gate.passed
    assert gate.accuracy < gate.unigram_rate  # token 7 is not the most frequent one


class CopyModel(torch.nn.Module):
    """Reads no context: predicts its input token, and the most frequent token at [MASK]."""

    def __init__(self, vocab: int, top: int) -> None:
        super().__init__()
        self.vocab, self.top = vocab, top
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # where evaluation finds the device
        self.head = torch.nn.Identity()
        self.config = SimpleNamespace(num_classes=vocab)

    def features_per_depth(self, x, on_step=None):
        target = torch.where(x == MASK, torch.full_like(x, self.top), x)
        return torch.nn.functional.one_hot(target, self.vocab).float()[None]  # [1, B, T, V]


def test_an_encoder_that_copies_its_input_fails_the_gate():
    # BERT's 80/10/10: 10 % of the scored inputs are the token itself, which a copy gets right
    torch.manual_seed(0)
    ids = torch.randint(5, 40, (512, 12))
    scored = torch.rand(ids.shape) < 0.15
    r = torch.rand(ids.shape)
    inputs = torch.where(scored & (r < 0.8), torch.full_like(ids, MASK), ids)
    inputs = torch.where(scored & (r >= 0.8) & (r < 0.9), torch.randint_like(ids, 5, 40), inputs)
    labels = torch.where(scored, ids, torch.full_like(ids, -100))
    top = unigram_rate(labels[inputs == MASK])[1]
    gate = masked_lm_gate(CopyModel(40, top), [(inputs, labels)], margin=0.0)
    assert gate.all_scored_accuracy > gate.unigram_rate + 5  # what scoring every position shows
    assert gate.accuracy == pytest.approx(gate.unigram_rate) and not gate.passed


def test_text_spec_reads_several_tsv_sentence_columns_without_labels(tmp_path):
    a = write_tsv(tmp_path / "a" / "train.tsv", "sentence", 120)
    b = write_tsv(tmp_path / "b" / "train.tsv", "text", 80, offset=500)
    (tmp_path / "a" / "validation.tsv").write_text("not\ta\tTSV\n")  # never read
    s = load_data(f"text:{a}:{b}", max_len=16, vocab_size=80)
    assert s.info["kind"] == "mlm" and s.info["name"] == "text:a/train.tsv+b/train.tsv"
    x = torch.cat([s.train.x, s.test.x])
    assert (x[:, 0] == CLS).all()
    # every sentence ends in [SEP], as a classifier sees it, and every row ends in one more
    assert int((x == SEP).sum()) == 200 + len(x)
    # 10 % of each file's sentences (12 + 8) are held out, whole, in the test rows
    assert int((s.test.x == SEP).sum()) - len(s.test) == 20
    one = load_data(f"text:{a}", max_len=16, vocab_size=80)
    assert len(one.train) < len(s.train)


def test_text_spec_errors(tmp_path):
    a = write_tsv(tmp_path / "train.tsv", "sentence", 50)
    with pytest.raises(DataError, match="does not exist"):
        load_data(f"text:{a}:{tmp_path / 'missing.tsv'}", vocab_size=60)
    bad = tmp_path / "bad.tsv"
    bad.write_text("words\tlabel\nhello\t1\n")
    with pytest.raises(DataError, match="header needs 'sentence' or 'text'"):
        load_data(f"text:{bad}", vocab_size=60)


def test_pretraining_gate_on_a_run_uses_its_held_out_masks(tmp_path):
    a = write_tsv(tmp_path / "a" / "train.tsv", "sentence", 300)
    cfg = load_config(
        None,
        [
            "--model.name=bert_tiny_mlm",
            f"--data.spec=text:{a}",
            "--data.options.vocab_size=60",
            "--data.options.max_len=16",
            "--epochs=1",
            "--batch_size=32",
            "--optim.warmup_epochs=0.5",
            "--optim.label_smoothing=0",
            f"--out_dir={tmp_path / 'run'}",
            *(f"--model.overrides.{k}={v}" for k, v in TINY.items()),
        ],
    )
    result = train(cfg, log=None)
    gate = pretraining_gate(result.run_dir, margin=1.0)
    # over all scored positions the accuracy is the run's own last evaluation (the same fixed
    # masks); the [MASK] positions and their unigram rate are recomputed here from its test split
    last = Run(result.run_dir).metrics()[-1]
    assert gate.all_scored_accuracy == pytest.approx(last["accuracy_per_depth"][-1])
    batches = list(load_train_data(cfg).test_batches(64, torch.device("cpu")))
    inputs, labels = torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])
    hidden = (inputs == MASK) & (labels != -100)
    assert (gate.unigram_rate, gate.unigram_token) == unigram_rate(labels[hidden])
    assert gate.num_tokens == int(hidden.sum()) < int((labels != -100).sum())
    model = acn.load(result.run_dir)
    with torch.no_grad():
        logits = model(inputs)
    expected = float((logits.argmax(-1)[hidden] == labels[hidden]).double().mean() * 100)
    assert gate.accuracy == pytest.approx(expected)
    model = create_model("bert_tiny", "acn", vocab_size=60, max_len=16, **TINY)
    acn.save(model, tmp_path / "cls.safetensors")
    with pytest.raises(ConfigError, match="not a masked-LM model"):
        pretraining_gate(tmp_path / "cls.safetensors")


def test_fine_tuning_from_a_pretrained_text_model_reads_its_tokenizer(tmp_path):
    corpus = write_tsv(tmp_path / "corpus" / "train.tsv", "sentence", 200)
    task = tmp_path / "task"
    write_tsv(task / "train.tsv", "sentence", 60, offset=900)  # other words: another tokenizer
    write_tsv(task / "test.tsv", "sentence", 20, offset=2000)
    common = [
        "--data.options.max_len=16",
        "--epochs=1",
        "--batch_size=32",
        "--optim.warmup_epochs=0.5",
        *(f"--model.overrides.{k}={v}" for k, v in TINY.items()),
    ]
    pre = load_config(
        None,
        [
            "--model.name=bert_tiny_mlm",
            f"--data.spec=text:{corpus}",
            "--data.options.vocab_size=70",
            f"--out_dir={tmp_path / 'pre'}",
            *common,
        ],
    )
    pretrained = train(pre, log=None)
    args = ["--model.name=bert_tiny", f"--data.spec=tsv:{task}", "--data.options.vocab_size=70"]
    fine = load_config(
        None, [*args, f"--init_from={pretrained.run_dir}", f"--out_dir={tmp_path / 'ft'}", *common]
    )
    tuned = train(fine, log=None)
    assert tuned.model.pretrained_cfg["tokenizer"] == pretrained.model.pretrained_cfg["tokenizer"]
    assert "tokenizer" in Run(tuned.run_dir).config.data.options  # written in config.yaml
    # without init_from the task trains its own tokenizer, which differs
    alone = train(load_config(None, [*args, f"--out_dir={tmp_path / 'alone'}", *common]), log=None)
    assert alone.model.pretrained_cfg["tokenizer"] != pretrained.model.pretrained_cfg["tokenizer"]


@pytest.mark.parametrize("connectivity", ["acn", "residual"])
def test_pre_ln_bert_has_pre_ln_blocks_and_a_final_norm(connectivity):
    torch.manual_seed(0)
    model = create_model("bert_tiny_mlm", connectivity, norm_first=True, **TINY)
    assert all(b.norm_first for b in model.stack.blocks)
    assert isinstance(model.norm, torch.nn.LayerNorm)
    x = torch.randint(5, 100, (2, 12))
    h = model.embed(x)
    kwargs = model.block_kwargs(x)
    states, total = h, h
    for block in model.stack.blocks:  # the wiring written out: residual stream or long sums
        states = block(states, **kwargs)
        total = total + states
    rep = states if connectivity == "residual" else total
    torch.testing.assert_close(model(x), model.head(model.norm(rep)))
    post = create_model("bert_tiny_mlm", connectivity, **TINY)
    assert not post.stack.blocks[0].norm_first and isinstance(post.norm, torch.nn.Identity)
