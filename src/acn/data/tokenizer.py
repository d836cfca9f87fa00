"""WordPiece tokenizer trained locally on the training texts (HF `tokenizers`).

BERT-style: lower-cased, BERT pre-tokenisation, special tokens at fixed ids
[PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, sequences `[CLS] ... [SEP]` padded/truncated to
max_len. A trained tokenizer is cached as JSON keyed on the corpus file and the options, so
the same data always gets the same ids. The trainer numbers the tokens it learns in an order that
changes from process to process (ties broken by hash order), so the ordinary tokens are
renumbered in sorted order after training: the same text gives the same ids on every machine
even without the cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from ..errors import ConfigError, DataError
from . import cache
from .sources.common import MAX_TEXT_BYTES, read_limited

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)
IDS_ORDER = "sorted"  # in the cache key: entries cached before the renumbering are not reused


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 8192, lowercase: bool = True
) -> Tokenizer:
    """A fresh WordPiece tokenizer fitted to `texts`."""
    if vocab_size < len(SPECIAL_TOKENS) + 1:
        raise ConfigError(
            f"vocab_size must be at least {len(SPECIAL_TOKENS) + 1}, got {vocab_size}"
        )
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    tok.train_from_iterator(texts, trainer)
    return _renumbered(tok)


def _renumbered(tok: Tokenizer) -> Tokenizer:
    """``tok`` with the special tokens at their fixed ids and every other token numbered in sorted
    order. WordPiece splits a word by longest match against the vocabulary, so only the ids
    change, never how a text is split."""
    vocab = tok.get_vocab(with_added_tokens=False)
    ordinary = sorted(t for t in vocab if t not in SPECIAL_TOKENS)
    ids = {t: i for i, t in enumerate([*SPECIAL_TOKENS, *ordinary])}
    old = tok.model
    tok.model = models.WordPiece(
        ids,
        unk_token=old.unk_token,
        continuing_subword_prefix=old.continuing_subword_prefix,
        max_input_chars_per_word=old.max_input_chars_per_word,
    )
    return tok


def load_tokenizer(path: str | Path) -> Tokenizer:
    """A tokenizer JSON saved earlier; DataError if unreadable or without our special ids."""
    p = Path(path).expanduser()
    text = read_limited(p, MAX_TEXT_BYTES, "tokenizer file")  # never a FIFO, never 2 GB
    try:
        tok = Tokenizer.from_str(text.decode("utf-8"))
    except Exception as exc:  # tokenizers raises its own Exception type for bad JSON
        raise DataError(f"cannot read tokenizer file {p}: {exc}") from exc
    for i, name in enumerate(SPECIAL_TOKENS):
        if tok.token_to_id(name) != i:
            raise DataError(f"tokenizer {p} does not map {name} to id {i}")
    return tok


def get_tokenizer(
    texts: Sequence[str],
    corpus_files: list[Path],
    *,
    vocab_size: int,
    lowercase: bool,
    cache_dir: str | None,
    tokenizer: str | None = None,
    **key_params: Any,
) -> tuple[Tokenizer, Path]:
    """The user's tokenizer file if given, else the cached one, else train and cache one."""
    if tokenizer is not None:
        return load_tokenizer(tokenizer), Path(tokenizer).expanduser()
    key = cache.cache_key(
        "wordpiece", corpus_files, vocab_size=vocab_size, lowercase=lowercase,
        ids=IDS_ORDER, **key_params,
    )  # fmt: skip
    path = cache.cache_dir(cache_dir) / f"{key}.json"
    if path.is_file():
        try:
            return load_tokenizer(path), path
        except DataError:
            pass  # a damaged cache entry is rebuilt below
    tok = train_tokenizer(texts, vocab_size, lowercase)
    cache.write_text_atomic(path, tok.to_str())
    return tok, path


def encode(tok: Tokenizer, texts: Sequence[str], max_len: int) -> torch.Tensor:
    """int64 [N, max_len]: `[CLS] tokens [SEP]`, truncated, right-padded with [PAD]=0."""
    if max_len < 3:
        raise ConfigError(f"max_len must be at least 3 ([CLS] x [SEP]), got {max_len}")
    encodings = tok.encode_batch(list(texts), add_special_tokens=False)
    # filled in place: padded Python lists would hold every PAD once more before the tensor
    out = torch.full((len(encodings), max_len), PAD_ID, dtype=torch.int64)
    for i, enc in enumerate(encodings):
        ids = enc.ids[: max_len - 2]
        out[i, : len(ids) + 2] = torch.tensor([CLS_ID, *ids, SEP_ID], dtype=torch.int64)
    return out


def tokenizer_info(tok: Tokenizer, path: Path, max_len: int) -> dict[str, Any]:
    """The ids a model/training loop needs (goes into DataSplits.info)."""
    return {
        "vocab_size": tok.get_vocab_size(),
        "max_len": max_len,
        "pad_id": PAD_ID,
        "unk_id": UNK_ID,
        "cls_id": CLS_ID,
        "sep_id": SEP_ID,
        "mask_id": MASK_ID,
        "special_ids": [PAD_ID, CLS_ID, SEP_ID],
        "tokenizer_path": str(path),
    }
