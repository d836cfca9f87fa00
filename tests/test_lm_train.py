"""Causal-LM text (`lm:FILE`), its tokenizers, and training a gpt model on it end to end:
the split, the windows, the tokenizer travelling with the model, `acn generate` and `acn probe`
on the run, and every bad input of the text and the generate command (one line, exit 2,
nothing written)."""

from __future__ import annotations

import io
import json
import math

import pytest
import torch

import acn
from _words import WORDS
from acn.cli import main
from acn.data import load_data
from acn.data.lm_tokenizer import TextTokenizer
from acn.errors import ConfigError, DataError
from acn.generation.text import TextStreamer
from acn.train import load_config, train

TINY = {"depth": 3, "dim": 32, "num_heads": 2}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))


def corpus(path, lines: int = 400):
    text = "\n".join(
        " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(4 + i % 9)) for i in range(lines)
    )
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_the_validation_text_is_the_end_of_the_file_and_never_trained_on(tmp_path):
    path = corpus(tmp_path / "t.txt")
    text = path.read_text(encoding="utf-8")
    splits = load_data(f"lm:{path}", context=16, val_fraction=0.2)
    tok = TextTokenizer.from_json(splits.info["tokenizer"])
    split = int(len(text) * 0.8)
    val = splits.test.x
    assert val.shape[1] == 17
    # non-overlapping windows sharing their edge token: every validation token predicted once
    stream = torch.cat([val[0], *[w[1:] for w in val[1:]]])
    assert tok.decode(stream.tolist()) == text[split:][: len(stream)]
    assert len(stream) > len(text[split:]) - 17
    train_text = text[:split]
    for window in splits.train.x:
        assert tok.decode(window.tolist()) in train_text
    windows = load_data(f"lm:{path}", context=16, train_windows=300).train.x
    assert windows.shape == (300, 17)
    assert all(tok.decode(w.tolist()) in train_text for w in windows)
    assert "split" in splits.info and "never trained on" in splits.info["split"]


def test_bpe_is_fitted_to_the_training_text_only(tmp_path):
    path = corpus(tmp_path / "t.txt")
    text = path.read_text(encoding="utf-8")
    # a word that appears only in the validation part
    path.write_text(text + "zyzzyva " * 200, encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    splits = load_data(f"lm:{path}", context=16, tokenizer="bpe", vocab_size=300)
    tok = TextTokenizer.from_json(splits.info["tokenizer"])
    split = int(len(text) * 0.9)
    assert "zyzzyva" not in text[:split]
    alone = TextTokenizer.train_bpe(text[:split], 300)
    assert tok.to_json() == alone.to_json()
    assert tok.encode("the cat") == alone.encode("the cat")
    assert len(tok.encode("zyzzyva")) > 2  # never merged: not seen in training
    assert tok.decode(tok.encode("héllo ✓ world")) == "héllo ✓ world"  # bytes: nothing unknown


@pytest.mark.parametrize(
    ("content", "options", "error", "match"),
    [
        (b"\xff\xfe not utf-8 \x80", {}, DataError, "not UTF-8"),
        (b"", {}, DataError, "no text"),
        (b"   \n\n  ", {}, DataError, "no text"),
        (b"tiny text", {"context": 16}, DataError, "fewer than one window"),
        (None, {"context": 0}, ConfigError, "context"),
        (None, {"val_fraction": 1.0}, ConfigError, "val_fraction"),
        (None, {"val_fraction": float("nan")}, ConfigError, "val_fraction"),
        (None, {"train_windows": 0}, ConfigError, "train_windows"),
        (None, {"tokenizer": "bpe", "vocab_size": 10}, ConfigError, "vocab_size"),
        (None, {"tokenizer": "missing.json"}, DataError, "cannot read tokenizer"),
    ],
)
def test_bad_text_is_a_one_line_error(tmp_path, content, options, error, match):
    path = tmp_path / "t.txt"
    if content is None:
        corpus(path)
    else:
        path.write_bytes(content)
    with pytest.raises(error, match=match) as info:
        load_data(f"lm:{path}", **options)
    assert "\n" not in str(info.value)


def lm_config(tmp_path, *extra, name="run"):
    text = tmp_path / "corpus.txt"
    if not text.exists():
        corpus(text)
    return load_config(
        None,
        [
            "--model.name=gpt_char",
            "--model.connectivity=acn",
            f"--data.spec=lm:{text}",
            "--data.options.train_windows=256",
            "--augment.crop_padding=0",
            "--augment.flip=false",
            "--augment.cutmix_prob=0",
            "--optim.label_smoothing=0",
            "--optim.lr=3e-3",
            "--optim.warmup_epochs=0.2",
            "--epochs=2",
            "--batch_size=32",
            "--eval_batch_size=16",
            f"--out_dir={tmp_path / name}",
            "--model.overrides.max_len=24",
            *(f"--model.overrides.{k}={v}" for k, v in TINY.items()),
            *extra,
        ],
    )


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lm")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ACN_CACHE_DIR", str(tmp / "cache"))
        result = train(lm_config(tmp), log=None)
    return tmp, result


def test_a_gpt_trains_on_text_and_carries_its_tokenizer(lm_run, tmp_path):
    tmp, result = lm_run
    s = result.summary
    assert s["tokenizer"] == "char" and s["depth"] == 3
    assert len(s["loss_per_depth"]) == 4 and s["val_loss"] == s["loss_per_depth"][-1]
    assert s["loss_per_depth"][-1] < math.log(len(set((tmp / "corpus.txt").read_text())))
    assert s["perplexity_per_depth"][-1] == pytest.approx(math.exp(s["val_loss"]))
    # context defaults to the model's (max_len 24)
    assert result.model.config.max_len == 24
    model = acn.load(result.run_dir)
    tok = TextTokenizer.from_json(model.pretrained_cfg["tokenizer"])
    assert tok.vocab_size == model.config.vocab_size
    assert tok.decode(tok.encode("the cat sat")) == "the cat sat"
    d = model.save_pretrained(tmp_path / "pretrained")
    again = acn.from_pretrained(d)
    assert again.pretrained_cfg["tokenizer"] == model.pretrained_cfg["tokenizer"]
    cut = model.truncate(1)
    assert cut.pretrained_cfg == model.pretrained_cfg


def test_generate_and_probe_a_trained_run(lm_run, tmp_path, capsys):
    tmp, result = lm_run
    run = str(result.run_dir)
    assert main(["generate", run, "--prompt", "the cat", "--max-new-tokens", "8"]) == 0
    plain = capsys.readouterr()
    assert plain.out.startswith("the cat") and "tokens/s" in plain.err
    assert main(["generate", run, "--prompt", "the cat", "--max-new-tokens", "8",
                 "--draft-depth", "1"]) == 0  # fmt: skip
    assert capsys.readouterr().out == plain.out  # lossless
    assert main(["generate", run, "--prompt", "the cat", "--max-new-tokens", "8",
                 "--draft-depth", "auto", "--json"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["draft_depth"] in (1, 2) and out["new_tokens"] == 8
    assert "the cat" + out["text"] + "\n" == plain.out
    assert main(["generate", run, "--prompt", "the", "--stream", "--max-new-tokens", "5"]) == 0
    assert main(["probe", run, "--out", str(tmp_path / "probe"), "--bootstrap", "50"]) == 0
    table = capsys.readouterr().out
    assert "ppl" in table and "nats/token" in table
    probe = json.loads((tmp_path / "probe" / "probe.json").read_text())[0]
    assert probe["loss_per_depth"][-1] == pytest.approx(result.summary["val_loss"], rel=1e-6)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--prompt", ""], "prompt is empty"),
        (["--prompt", "the ∑ cat"], "has no '∑'"),
        (["--prompt", "the cat " * 4], "leaves no room"),
        (["--prompt", "the", "--max-new-tokens", "0"], "max-new-tokens"),
        (["--prompt", "the", "--max-new-tokens", "999999999"], "max-new-tokens"),
        (["--prompt", "the", "--max-new-tokens", "30"], "leaves room for 21"),
        (["--prompt", "the", "--draft-depth", "3"], "1..2"),
        (["--prompt", "the", "--draft-depth", "0"], "draft-depth"),
        (["--prompt", "the", "--depth", "4"], "0..3"),
        (["--prompt", "the", "--do-sample", "--temperature", "0"], "temperature"),
        (["--prompt", "the", "--do-sample", "--temperature", "-1"], "temperature"),
        (["--prompt", "the", "--do-sample", "--top-p", "nan"], "top-p"),
        (["--prompt", "the", "--do-sample", "--top-p", "1.5"], "top-p"),
        (["--prompt", "the", "--do-sample", "--top-p", "0"], "top-p"),
        (["--prompt", "the", "--temperature", "0.5"], "add --do-sample"),
        (["--prompt", "the", "--exit-threshold", "0"], "exit_threshold"),
        (["--prompt", "the", "--tokenizer", "WRONG"], "is not the model's tokenizer"),
        (["--prompt", "the", "--tokenizer", "NOTJSON"], "not a valid tokenizer"),
    ],
)
def test_bad_generate_input_is_one_line_exit_2_nothing_written(
    lm_run, tmp_path, capsys, args, match
):
    tmp, result = lm_run
    wrong = tmp_path / "wrong.json"
    wrong.write_text(TextTokenizer.train_char("abc").to_json(), encoding="utf-8")
    notjson = tmp_path / "notjson.json"
    notjson.write_text("{not json", encoding="utf-8")
    args = [str(wrong) if a == "WRONG" else str(notjson) if a == "NOTJSON" else a for a in args]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["generate", str(result.run_dir), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("acn: error:") and len(err.splitlines()) == 1, err
    assert match in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_generate_refuses_a_model_that_is_not_a_language_model(tmp_path, capsys):
    model = acn.create_model("mlp_s4", connectivity="acn", depth=2, dim=8, hidden=8)
    path = acn.save(model, tmp_path / "mlp.safetensors")
    assert main(["generate", str(path), "--prompt", "hi"]) == 2
    assert "needs a gpt model" in capsys.readouterr().err


def test_generate_without_a_tokenizer_asks_for_one(tmp_path, capsys):
    model = acn.create_model("gpt_char", connectivity="acn", **TINY, vocab_size=3, max_len=8)
    path = acn.save(model, tmp_path / "gpt.safetensors")
    assert main(["generate", str(path), "--prompt", "ab"]) == 2
    assert "carries no tokenizer" in capsys.readouterr().err
    tok = tmp_path / "tok.json"
    tok.write_text(TextTokenizer.train_char("abc").to_json(), encoding="utf-8")
    assert main(["generate", str(path), "--prompt", "ab", "--tokenizer", str(tok)]) == 0


def test_training_refuses_lm_text_for_a_classifier_and_auto_cut(tmp_path):
    text = corpus(tmp_path / "corpus.txt")
    vit = load_config(None, ["--model.name=vit_tiny_cifar", f"--data.spec=lm:{text}",
                             f"--out_dir={tmp_path / 'vit'}"])  # fmt: skip
    with pytest.raises(DataError, match="needs a causal gpt model"):
        train(vit, log=None)
    assert not (tmp_path / "vit").exists()
    with pytest.raises(ConfigError, match="auto_cut"):
        train(lm_config(tmp_path, "--auto_cut.enabled=true", name="cut"), log=None)


@pytest.mark.parametrize(("content", "match"), [(b"\xff\xfe bad", "not UTF-8"), (b"", "no text")])
def test_acn_train_on_bad_text_is_one_line_exit_2_nothing_written(tmp_path, capsys, content, match):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    config = tmp_path / "c.yaml"
    config.write_text("model: {name: gpt_char}\n")
    out = tmp_path / "run"
    assert main(["train", str(config), f"--data.spec=lm:{bad}", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_the_streamer_writes_whole_characters_of_byte_level_tokens():
    tok = TextTokenizer.train_bpe("plain ascii text only " * 50, 300)
    ids = tok.encode("naïve ✓ café")  # multi-byte characters split over byte tokens
    out = io.StringIO()
    streamer = TextStreamer(tok, out)
    seen = []
    for i in ids:
        streamer.put(torch.tensor([i]))
        seen.append(out.getvalue())
    streamer.end()
    assert out.getvalue() == "naïve ✓ café\n"
    assert all("\ufffd" not in s for s in seen)  # never half a character
