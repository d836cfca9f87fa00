"""Text sources: TSV sentence classification and raw text for masked-language modelling.

Both train a WordPiece tokenizer on the full training text (see acn.data.tokenizer), so a
quick run with `limit` uses the same token ids as a full run.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterator
from pathlib import Path

import torch
from tokenizers import Tokenizer

from ...errors import ConfigError, DataError
from .. import tokenizer as wp
from ..dataset import ArrayDataset, DataSplits, make_splits
from .common import (
    MAX_TEXT_BYTES,
    existing,
    is_integer_label,
    open_regular,
    parse_label,
    read_limited,
    reading,
)

TEXT_COLUMNS = ("sentence", "text")
TEST_FILES = ("test.tsv", "validation.tsv", "dev.tsv")
SPLIT_SEED = 0  # the held-out sentences of a TSV file read as MLM text


MAX_LEN = 8192  # tokens per sequence; BERT uses 512, and a typo like 100000 must not run
MAX_TOKEN_BYTES = 4 << 30  # the int64 token-id tensors of both splits together


def _check_options(limit: int | None, max_len: int) -> None:
    if limit is not None and limit <= 0:
        raise ConfigError(f"limit must be positive, got {limit}")
    if not 3 <= max_len <= MAX_LEN:
        raise ConfigError(f"max_len must be in 3..{MAX_LEN} ([CLS] token [SEP]), got {max_len}")


def _check_memory(rows: int, max_len: int) -> None:
    """Refuse before tokenising what would not fit: ``rows`` x ``max_len`` int64 token ids."""
    need = rows * max_len * 8
    if need > MAX_TOKEN_BYTES:
        raise ConfigError(
            f"{rows:,} sequences of max_len {max_len} need {need / 2**30:.1f} GiB of token ids, "
            f"more than {MAX_TOKEN_BYTES / 2**30:.0f} GiB; lower max_len or set limit"
        )


def _open_text(path: Path, what: str) -> io.TextIOWrapper:
    """A UTF-8 text file of at most :data:`MAX_TEXT_BYTES`, for csv (which wants newline="")."""
    return io.TextIOWrapper(open_regular(path, MAX_TEXT_BYTES, what), encoding="utf-8", newline="")


def read_tsv(path: Path) -> tuple[list[str], list[str]]:
    """(texts, labels) from a TSV with a header naming `label` and `sentence` or `text`."""
    texts, labels = _read_tsv(path, need_label=True)
    assert labels is not None
    return texts, labels


def read_tsv_texts(path: Path) -> list[str]:
    """The `sentence` or `text` column of a TSV with a header; any label column is not read."""
    return _read_tsv(path, need_label=False)[0]


def _read_tsv(path: Path, need_label: bool) -> tuple[list[str], list[str] | None]:
    with reading(path, "TSV file"), _open_text(path, "TSV file") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        try:
            return _tsv_rows(rows, path, need_label)
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit() characters
            raise DataError(f"{path}:{rows.line_num}: {exc}") from None


def _tsv_rows(
    rows: Iterator[list[str]], path: Path, need_label: bool
) -> tuple[list[str], list[str] | None]:
    header = next(rows, None)
    if header is None:
        raise DataError(f"empty TSV file: {path}")
    text_col = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
    if text_col is None or (need_label and "label" not in header):
        need = "'label' and 'sentence' or 'text'" if need_label else "'sentence' or 'text'"
        raise DataError(f"TSV header needs {need}, got {header}: {path}")
    label_col = header.index("label") if need_label else None
    texts: list[str] = []
    labels: list[str] | None = [] if need_label else None
    for lineno, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise DataError(
                f"{path}:{lineno}: expected {len(header)} tab-separated fields, got {len(row)}"
            )
        if labels is not None and label_col is not None:
            label = row[label_col].strip()
            if not label:
                raise DataError(f"{path}:{lineno}: empty label")
            labels.append(label)
        texts.append(row[text_col])
    return texts, labels


def _has_labels(path: Path) -> bool:
    """GLUE test.tsv files carry no labels; those cannot serve as the test split."""
    with reading(path, "TSV file"), _open_text(path, "TSV file") as f:
        header = f.readline(1 << 16)  # a header is short; a file of one huge line is not read
        return "label" in header.rstrip("\r\n").split("\t")


def label_ids(
    train: list[str], test: list[str], train_path: Path, test_path: Path
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Integer labels (ASCII digits) are class indices as given ("07" is class 7); other labels
    map to ids in sorted order. Test labels must occur among the training classes."""
    indices = [is_integer_label(s) for s in train]
    if any(indices) and not all(indices):  # e.g. "²", which str.isdigit() takes for a digit
        name = train[indices.index(False)]
        raise DataError(
            f"{train_path}: labels mix class indices ({train[indices.index(True)]!r}) and "
            f"names ({name[:40]!r}); use one kind"
        )
    if all(indices):
        numbers = [parse_label(s, train_path) for s in train]
        classes = [str(i) for i in range(max(numbers) + 1)]
        train = [str(n) for n in numbers]
        test = [str(parse_label(s, test_path)) if is_integer_label(s) else s for s in test]
    else:
        classes = sorted(set(train))
    index = {c: i for i, c in enumerate(classes)}
    unknown = next((s for s in test if s not in index), None)
    if unknown is not None:
        raise DataError(
            f"label {unknown[:40]!r} in {test_path} does not occur in the training labels"
        )
    return _ids(train, index), _ids(test, index), classes


def _ids(labels: list[str], index: dict[str, int]) -> torch.Tensor:
    return torch.tensor([index[s] for s in labels], dtype=torch.int64)


def _unlabelled(x: torch.Tensor) -> torch.Tensor:
    """MLM rows carry no class label; -1 marks that."""
    return torch.full((len(x),), -1, dtype=torch.int64)


def load_tsv(
    path: str,
    max_len: int = 64,
    vocab_size: int = 8192,
    lowercase: bool = True,
    limit: int | None = None,
    tokenizer: str | None = None,
    cache_dir: str | None = None,
) -> DataSplits:
    """Sentence classification from train.tsv + test.tsv|validation.tsv|dev.tsv in `path`.

    limit: keep the first `limit` rows of each split; tokenizer: a saved tokenizer JSON to use
    instead of training one (e.g. the one from MLM pretraining).
    """
    _check_options(limit, max_len)
    d = existing(path, want="dir")
    train_path = d / "train.tsv"
    if not train_path.exists():  # a FIFO or directory is found here and refused when opened
        raise DataError(f"missing train.tsv in {d}")
    test_path = next((d / n for n in TEST_FILES if (d / n).exists() and _has_labels(d / n)), None)
    if test_path is None:
        raise DataError(f"no labelled test.tsv, validation.tsv or dev.tsv in {d}")
    train_texts, train_labels = read_tsv(train_path)
    test_texts, test_labels = read_tsv(test_path)
    if not train_texts:
        raise DataError(f"no rows in {train_path}")
    _check_memory(len(train_texts[:limit]) + len(test_texts[:limit]), max_len)
    y_train, y_test, classes = label_ids(train_labels, test_labels, train_path, test_path)
    tok, tok_path = wp.get_tokenizer(
        train_texts, [train_path], vocab_size=vocab_size, lowercase=lowercase,
        cache_dir=cache_dir, tokenizer=tokenizer,
    )  # fmt: skip
    train = _encoded(tok, train_texts[:limit], y_train[:limit], classes, max_len, train_path)
    test = _encoded(tok, test_texts[:limit], y_test[:limit], classes, max_len, test_path)
    info = wp.tokenizer_info(tok, tok_path, max_len)
    return make_splits(f"tsv:{d.name}", str(d), train, test, **info)


def _encoded(
    tok: Tokenizer, texts: list[str], y: torch.Tensor, classes: list[str], max_len: int, path: Path
) -> ArrayDataset:
    return ArrayDataset(wp.encode(tok, texts, max_len), y, classes, "text", source=str(path))


def chunk_ids(ids: list[int], max_len: int) -> torch.Tensor:
    """Cut a token stream into rows `[CLS] max_len-2 tokens [SEP]`; the last row is padded."""
    body = max_len - 2
    n = math.ceil(len(ids) / body)
    stream = torch.full((n * body,), wp.PAD_ID, dtype=torch.int64)
    stream[: len(ids)] = torch.tensor(ids, dtype=torch.int64)
    rows = stream.view(n, body)
    lengths = torch.full((n,), body)
    lengths[-1] = len(ids) - (n - 1) * body
    out = torch.full((n, max_len), wp.PAD_ID, dtype=torch.int64)
    out[:, 0] = wp.CLS_ID
    out[:, 1:-1] = rows
    out[torch.arange(n), lengths + 1] = wp.SEP_ID  # right after each row's last real token
    return out


def load_text(
    path: str,
    max_len: int = 64,
    vocab_size: int = 8192,
    lowercase: bool = True,
    test_fraction: float = 0.1,
    limit: int | None = None,
    tokenizer: str | None = None,
    cache_dir: str | None = None,
) -> DataSplits:
    """Unlabelled text for MLM (kind "mlm") from one file or several joined by ``os.pathsep``
    (``text:a.txt:sst2/train.tsv:agnews/train.tsv``), chunked into rows ``[CLS] ... [SEP]`` of
    ``max_len``; ``test_fraction`` of every file is held out as the test split:

    - a text file: its non-empty lines are tokenised and joined (wrapped prose, as
      tiny-shakespeare); the last ``test_fraction`` of its rows, in text order, is held out.
    - a ``.tsv`` file: its ``sentence`` or ``text`` column (a label column is never read); every
      row is one sentence followed by ``[SEP]``, as a classifier will see it. A fixed random
      ``test_fraction`` of the sentences (seed 0) is held out before chunking, so no held-out
      sentence shares a row with a training one.

    The tokenizer is trained on the text of all the files together; the rows of the files are
    concatenated in the order given. Only the files named are read: a TSV directory's
    dev or test file is never touched.
    """
    _check_options(limit, max_len)
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    files = [existing(part, want="file") for part in path.split(os.pathsep) if part]
    if not files:
        raise ConfigError(f"no file named in text spec {path!r}")
    docs = [_read_documents(p) for p in files]
    tok, tok_path = wp.get_tokenizer(
        [text for d in docs for text in d],
        files,
        vocab_size=vocab_size,
        lowercase=lowercase,
        cache_dir=cache_dir,
        tokenizer=tokenizer,
    )
    parts = [_mlm_rows(tok, p, d, max_len, test_fraction) for p, d in zip(files, docs)]
    x_train = torch.cat([train for train, _ in parts])[:limit]
    x_test = torch.cat([test for _, test in parts])[:limit]
    where = os.pathsep.join(str(p) for p in files)
    train = ArrayDataset(x_train, _unlabelled(x_train), [], "mlm", source=where)
    test = ArrayDataset(x_test, _unlabelled(x_test), [], "mlm", source=where)
    if len(files) == 1:
        name = f"text:{files[0].stem}"
    else:
        name = "text:" + "+".join(f"{p.parent.name}/{p.name}" for p in files)
    return make_splits(name, where, train, test, **wp.tokenizer_info(tok, tok_path, max_len))


def _read_documents(p: Path) -> list[str]:
    """A TSV file's sentences, or a text file's non-empty lines."""
    if p.suffix.lower() == ".tsv":
        texts = [t.strip() for t in read_tsv_texts(p)]
    else:
        raw = read_limited(p, MAX_TEXT_BYTES, "text file")
        with reading(p, "text file"):
            texts = [ln.strip() for ln in raw.decode("utf-8").splitlines()]
        del raw
    texts = [t for t in texts if t]
    if not texts:
        raise DataError(f"no text in {p}")
    return texts


def _mlm_rows(
    tok: Tokenizer, p: Path, texts: list[str], max_len: int, test_fraction: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(train rows, held-out rows) of one file; see :func:`load_text`."""
    encoded = [enc.ids for enc in tok.encode_batch(texts, add_special_tokens=False)]
    total = sum(len(ids) for ids in encoded)
    if total < 2 * (max_len - 2):
        raise DataError(f"too little text for two sequences of {max_len} tokens: {p}")
    _check_memory(total // (max_len - 2) + 2, max_len)
    if p.suffix.lower() != ".tsv":  # prose: chunk the whole stream, hold out its tail
        x = chunk_ids([i for ids in encoded for i in ids], max_len)
        n_test = max(1, round(test_fraction * len(x)))
        return x[: len(x) - n_test], x[len(x) - n_test :]
    n_test = max(1, round(test_fraction * len(encoded)))
    if n_test >= len(encoded):
        raise DataError(f"too few sentences to hold out {test_fraction:g} of them: {p}")
    order = torch.randperm(len(encoded), generator=torch.Generator().manual_seed(SPLIT_SEED))
    held = torch.zeros(len(encoded), dtype=torch.bool)
    held[order[:n_test]] = True
    streams: tuple[list[int], list[int]] = ([], [])
    for ids, is_held in zip(encoded, held.tolist()):
        streams[is_held].extend([*ids, wp.SEP_ID])
    return chunk_ids(streams[0], max_len), chunk_ids(streams[1], max_len)
