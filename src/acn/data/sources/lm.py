"""Plain UTF-8 text for causal language modelling (``lm:FILE``), as character or BPE tokens.

The split is by position in the text, never shuffled: the first ``1 - val_fraction`` of the
characters train, the rest validates (nanoGPT's 90/10 split of tiny-shakespeare), so no
validation text is ever trained on. A BPE tokenizer is fitted to the training part only; a
character vocabulary is the set of characters of the whole file (as nanoGPT's; it says which
symbols exist, nothing about their order). A tokenizer JSON file can be given instead.

Rows are windows of ``context + 1`` token ids: the model reads the first ``context`` and predicts
the last ``context`` (``acn.runs.inputs`` shifts them). Validation windows do not overlap, so every
validation token is predicted exactly once. Training windows do not overlap either, unless
``train_windows`` asks for that many windows at offsets drawn uniformly from the training tokens
(seed 0), which is how nanoGPT samples its batches (``train_windows = iterations x batch size``
gives its recipe as one epoch).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ...errors import ConfigError, DataError
from .. import cache
from ..dataset import ArrayDataset, DataSplits, make_splits
from ..lm_tokenizer import TextTokenizer
from .common import existing

MAX_TEXT_BYTES = 4 << 30  # read into memory at once; larger corpora need a streaming source
MAX_CONTEXT = 1 << 16
MAX_WINDOW_BYTES = 4 << 30  # the int64 windows of both splits together
WINDOW_SEED = 0  # the offsets of train_windows: fixed, so every run trains on the same windows


def read_text(path: str | Path) -> str:
    """The file as text; one-line DataError if it is missing, too large, empty or not UTF-8."""
    p = existing(path, want="file")
    size = p.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise DataError(
            f"{p} has {size / 2**30:.1f} GiB, more than the {MAX_TEXT_BYTES >> 30} GiB read at once"
        )
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read text file {p}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{p} is not UTF-8 text (byte {e.start} is invalid)") from None
    if not text.strip():
        raise DataError(f"{p} holds no text")
    return text


def fit_tokenizer(
    text: str, train_text: str, tokenizer: str, vocab_size: int, path: Path, cache_dir: str | None
) -> tuple[TextTokenizer, str | None]:
    """(tokenizer, the JSON file it came from or was cached in, if any)."""
    if tokenizer == "char":
        return TextTokenizer.train_char(text), None
    if tokenizer != "bpe":
        return TextTokenizer.from_file(tokenizer), str(Path(tokenizer).expanduser())
    split = len(train_text)
    key = cache.cache_key("lm-bpe", [path], vocab_size=vocab_size, train_chars=split)
    cached = cache.cache_dir(cache_dir) / f"{key}.json"
    if cached.is_file():
        try:
            return TextTokenizer.from_file(cached), str(cached)
        except DataError:
            pass  # a damaged cache entry is rebuilt below
    tok = TextTokenizer.train_bpe(train_text, vocab_size)
    cache.write_text_atomic(cached, tok.to_json())
    return tok, str(cached)


def windows(ids: torch.Tensor, context: int, count: int | None = None) -> torch.Tensor:
    """[N, context + 1] windows of the token stream ``ids``: non-overlapping, or ``count`` at
    offsets drawn uniformly (seed :data:`WINDOW_SEED`)."""
    width = context + 1
    if count is None:
        n = (len(ids) - 1) // context
        return ids[: n * context + 1].unfold(0, width, context).clone()
    gen = torch.Generator().manual_seed(WINDOW_SEED)
    starts = torch.randint(0, len(ids) - context, (count,), generator=gen)
    return ids[starts[:, None] + torch.arange(width)]


def load_lm(
    path: str,
    context: int = 64,
    tokenizer: str = "char",
    vocab_size: int = 4096,
    val_fraction: float = 0.1,
    train_windows: int | None = None,
    cache_dir: str | None = None,
) -> DataSplits:
    """Causal-LM windows of ``path``; see the module docstring.

    tokenizer: ``char``, ``bpe`` (byte-level, ``vocab_size`` tokens, fitted to the training
    text) or the path of a tokenizer JSON (e.g. another run's, to share its token ids)."""
    if not 1 <= context <= MAX_CONTEXT:
        raise ConfigError(f"context must be in 1..{MAX_CONTEXT} tokens, got {context}")
    if not 0 < val_fraction < 1:  # NaN fails this too
        raise ConfigError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    if train_windows is not None and train_windows < 1:
        raise ConfigError(f"train_windows must be >= 1, got {train_windows}")
    p = existing(path, want="file")
    text = read_text(p)
    split = int(len(text) * (1 - val_fraction))
    train_text, val_text = text[:split], text[split:]
    tok, tok_path = fit_tokenizer(text, train_text, tokenizer, vocab_size, p, cache_dir)
    train_ids = torch.tensor(tok.encode(train_text), dtype=torch.int64)
    val_ids = torch.tensor(tok.encode(val_text), dtype=torch.int64)
    for name, ids in (("training", train_ids), ("validation", val_ids)):
        if len(ids) < context + 1:
            raise DataError(
                f"the {name} text of {p} has {len(ids)} tokens, fewer than one window of "
                f"context + 1 = {context + 1}; give more text or a smaller context"
            )
    rows = (train_windows or len(train_ids) // context) + len(val_ids) // context
    if rows * (context + 1) * 8 > MAX_WINDOW_BYTES:
        raise ConfigError(
            f"{rows:,} windows of {context + 1} tokens need more than "
            f"{MAX_WINDOW_BYTES >> 30} GiB; lower train_windows or context"
        )
    x_train, x_val = windows(train_ids, context, train_windows), windows(val_ids, context)
    unlabelled = lambda x: torch.full((len(x),), -1, dtype=torch.int64)  # noqa: E731
    train = ArrayDataset(x_train, unlabelled(x_train), [], "lm", source=str(p))
    val = ArrayDataset(x_val, unlabelled(x_val), [], "lm", source=str(p))
    return make_splits(
        f"lm:{p.stem}",
        str(p),
        train,
        val,
        vocab_size=tok.vocab_size,
        max_len=context,
        tokenizer=tok.to_json(),
        tokenizer_kind=tok.kind,
        tokenizer_path=tok_path,
        eos_token_id=tok.eos_token_id,
        split=(
            f"train: the first {split:,} characters ({1 - val_fraction:.0%}, {len(train_ids):,} "
            f"tokens); validation: the last {len(text) - split:,} ({len(val_ids):,} tokens), "
            "never trained on"
        ),
        train_tokens=len(train_ids),
        val_tokens=len(val_ids),
    )
