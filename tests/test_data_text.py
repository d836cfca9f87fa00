"""TSV classification and raw-text MLM sources, with the locally trained WordPiece tokenizer."""

from __future__ import annotations

import random

import pytest
import torch
from tokenizers import Tokenizer

import acn.data.tokenizer as tokenizer_module
from _words import WORDS
from acn.data import load_data, load_tokenizer
from acn.data.tokenizer import SPECIAL_TOKENS, train_tokenizer
from acn.errors import DataError

CLS, SEP, PAD = 2, 3, 0


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACN_CACHE_DIR", str(tmp_path / "cache"))


def sentences(n: int, offset: int = 0) -> list[str]:
    return [
        " ".join(WORDS[(i + offset + j) % len(WORDS)] for j in range(3 + i % 9)) for i in range(n)
    ]


def write_tsv(path, header, rows):
    path.write_text("\n".join([header, *("\t".join(r) for r in rows)]) + "\n", encoding="utf-8")


def test_sst2_layout(tmp_path):
    write_tsv(
        tmp_path / "train.tsv",
        "sentence\tlabel",
        [(s, str(i % 2)) for i, s in enumerate(sentences(40))],
    )
    write_tsv(tmp_path / "validation.tsv", "sentence\tlabel", [(s, "1") for s in sentences(6, 3)])
    s = load_data(f"tsv:{tmp_path}", max_len=12, vocab_size=120)
    assert s.train.kind == "text" and s.train.x.shape == (40, 12) and s.train.x.dtype == torch.int64
    assert s.info["classes"] == ["0", "1"] and s.test.y.tolist() == [1] * 6
    assert (s.train.x[:, 0] == CLS).all()
    lengths = (s.train.x != PAD).sum(1)
    assert (s.train.x[torch.arange(40), lengths - 1] == SEP).all()  # [SEP] ends every row
    assert s.info["vocab_size"] <= 120 and s.info["mask_id"] == 4 and s.info["pad_id"] == 0
    assert int(s.train.x.max()) < s.info["vocab_size"]
    # The tokenizer JSON is cached and reused: same ids on a second load.
    tok_path = s.info["tokenizer_path"]
    assert (tmp_path / "cache").exists() and tok_path.startswith(str(tmp_path / "cache"))
    assert torch.equal(load_data(str(tmp_path), max_len=12, vocab_size=120).train.x, s.train.x)
    assert load_tokenizer(tok_path).get_vocab_size() == s.info["vocab_size"]


def test_agnews_layout_string_labels_sorted(tmp_path):
    labels = ["World", "Sports", "Business", "Sci/Tech"]
    write_tsv(
        tmp_path / "train.tsv",
        "text\tlabel",
        [(s, labels[i % 4]) for i, s in enumerate(sentences(20))],
    )
    write_tsv(tmp_path / "test.tsv", "text\tlabel", [("cat sat", "Sports"), ("dogs ran", "World")])
    s = load_data(f"tsv:{tmp_path}", vocab_size=100, limit=5)
    assert s.info["classes"] == ["Business", "Sci/Tech", "Sports", "World"]
    assert (
        s.test.y.tolist() == [2, 3] and len(s.train) == 5 and s.train.y.tolist() == [3, 2, 0, 1, 3]
    )


def test_unlabelled_glue_test_falls_back_to_validation(tmp_path):
    write_tsv(tmp_path / "train.tsv", "sentence\tlabel", [(s, "0") for s in sentences(10)])
    write_tsv(tmp_path / "test.tsv", "index\tsentence", [("0", "no labels here")])
    write_tsv(tmp_path / "validation.tsv", "sentence\tlabel", [("cat", "0")])
    assert len(load_data(f"tsv:{tmp_path}", vocab_size=60).test) == 1


def test_tsv_errors(tmp_path):
    with pytest.raises(DataError, match=f"missing train.tsv in {tmp_path}"):
        load_data(f"tsv:{tmp_path}")
    write_tsv(tmp_path / "train.tsv", "sentence\tlabel", [("a b", "0"), ("c", "1")])
    write_tsv(tmp_path / "test.tsv", "sentence\tlabel", [("a", "2")])
    with pytest.raises(DataError, match="label '2' in .*test.tsv"):
        load_data(f"tsv:{tmp_path}", vocab_size=40)
    write_tsv(tmp_path / "test.tsv", "sentence\tlabel", [("a\tb", "0")])
    with pytest.raises(DataError, match="test.tsv:2: expected 2 tab-separated fields, got 3"):
        load_data(f"tsv:{tmp_path}", vocab_size=40)
    write_tsv(tmp_path / "test.tsv", "words\tlabel", [("a", "0")])
    with pytest.raises(DataError, match="header needs"):
        load_data(f"tsv:{tmp_path}", vocab_size=40)


def test_text_mlm_chunks_and_holdout(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(sentences(200)), encoding="utf-8")
    s = load_data(f"text:{path}", max_len=16, vocab_size=80)
    assert s.train.kind == "mlm" and (s.train.y == -1).all() and s.info["num_classes"] == 0
    x = torch.cat([s.train.x, s.test.x])
    assert len(s.test) == round(0.1 * len(x))
    assert (x[:, 0] == CLS).all() and ((x == SEP).sum(1) == 1).all()
    assert (x[:-1] != PAD).all()  # only the very last row is padded
    # Same text tokenised by an explicit tokenizer file gives the same rows.
    again = load_data(str(path), max_len=16, tokenizer=s.info["tokenizer_path"], limit=3)
    assert torch.equal(again.train.x, s.train.x[:3]) and len(again.test) == 3


def test_text_errors(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("too short", encoding="utf-8")
    with pytest.raises(DataError, match=f"too little text.*{path}"):
        load_data(f"text:{path}", vocab_size=40)
    bad = tmp_path / "tok.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match=f"tokenizer file {bad}"):
        load_data(f"text:{path}", tokenizer=str(bad))
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9 " * 100)
    with pytest.raises(DataError, match=str(latin)):
        load_data(f"text:{latin}")


def test_trained_tokenizer_ids_follow_the_tokens_not_the_trainer(monkeypatch):
    """The trainer numbers its tokens in hash order, which changes from process to process; the
    ids are renumbered: specials first, then every other token in sorted order, and every text
    splits into the same tokens as under the trainer's own numbering (kept from the same
    training before the renumbering)."""
    trained = []
    renumber = tokenizer_module._renumbered
    monkeypatch.setattr(tokenizer_module, "_renumbered",
                        lambda t: renumber(trained.append(Tokenizer.from_str(t.to_str())) or t))  # fmt: skip
    rng = random.Random(0)  # 300 made-up words for 200 tokens: most words split into pieces
    words = [
        "".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 7))) for _ in range(300)
    ]
    texts = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(500)]
    tok = train_tokenizer(texts, 200)
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    names = [t for t, _ in vocab]
    assert [i for _, i in vocab] == list(range(len(vocab)))
    assert names[:5] == SPECIAL_TOKENS and names[5:] == sorted(names[5:])
    (raw,) = trained
    assert set(raw.get_vocab()) == set(names)
    assert any(t.startswith("##") for t in tok.encode(" ".join(words)).tokens)
    for text in texts[:50]:
        assert tok.encode(text).tokens == raw.encode(text).tokens
