"""The tokenizer of a language model: characters or byte-level BPE, one interface, one format.

Both are Hugging Face ``tokenizers`` objects and are stored as their JSON (``to_json``): a model
carries it in ``model.pretrained_cfg["tokenizer"]``, so a model file, a pretrained directory and
an export are self-contained. Character tokenizers map every character of the training text to an
id (sorted, as nanoGPT's shakespeare_char) and refuse characters they never saw; byte-level BPE
(GPT-2's scheme, trained on the training text) encodes any text and has an end-of-text token.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from ..errors import ConfigError, DataError

KINDS = ("char", "bpe")
EOS = "<|endoftext|>"
MIN_BPE_VOCAB = 257  # the 256 bytes and the end-of-text token
MAX_VOCAB = 1 << 20


class TextTokenizer:
    """``encode(text) -> ids``, ``decode(ids) -> text``, ``vocab_size``, ``eos_token_id``."""

    def __init__(self, tok: Tokenizer, where: str = "tokenizer") -> None:
        self.tok = tok
        spec = json.loads(tok.to_str())
        model_type = (spec.get("model") or {}).get("type")
        if model_type == "WordLevel":
            self.kind = "char"
        elif model_type == "BPE":
            self.kind = "bpe"
        else:
            raise DataError(f"{where} is not a character or BPE tokenizer (model {model_type!r})")
        vocab = tok.get_vocab()
        self._chars = frozenset(vocab) if self.kind == "char" else frozenset()

    # -- building and storing --------------------------------------------------------------------
    @classmethod
    def train_char(cls, text: str) -> TextTokenizer:
        """One id per distinct character of ``text``, in sorted order."""
        vocab = {ch: i for i, ch in enumerate(sorted(set(text)))}
        tok = Tokenizer(models.WordLevel(vocab, unk_token=None))
        tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
        tok.decoder = decoders.Fuse()
        return cls(tok)

    @classmethod
    def train_bpe(cls, text: str, vocab_size: int) -> TextTokenizer:
        """Byte-level BPE with ``vocab_size`` tokens (the 256 bytes, the end-of-text token and
        merges learned from ``text``)."""
        if not MIN_BPE_VOCAB <= vocab_size <= MAX_VOCAB:
            raise ConfigError(
                f"BPE vocab_size must be in {MIN_BPE_VOCAB}..{MAX_VOCAB}, got {vocab_size}"
            )
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=[EOS],
            show_progress=False,
        )
        tok.train_from_iterator([text], trainer)
        return cls(tok)

    @classmethod
    def from_json(cls, text: str, where: str = "tokenizer") -> TextTokenizer:
        """A tokenizer stored by :meth:`to_json`; one-line DataError if it is not one."""
        if not isinstance(text, str):
            raise DataError(f"{where} is not a tokenizer JSON string")
        try:
            tok = Tokenizer.from_str(text)
        except Exception as e:  # tokenizers raises its own Exception type for bad JSON
            raise DataError(f"{where} is not a valid tokenizer: {str(e).splitlines()[0]}") from None
        return cls(tok, where)

    @classmethod
    def from_file(cls, path: str | Path) -> TextTokenizer:
        p = Path(path).expanduser()
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"cannot read tokenizer file {p}: {e}") from None
        return cls.from_json(text, str(p))

    def to_json(self) -> str:
        return self.tok.to_str()

    # -- using -----------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    @property
    def eos_token_id(self) -> int | None:
        return self.tok.token_to_id(EOS)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; a character a char tokenizer never saw is a DataError."""
        if self.kind == "char":
            unknown = sorted(set(text) - self._chars)
            if unknown:
                shown = ", ".join(repr(c) for c in unknown[:5])
                raise DataError(
                    f"the model's character vocabulary ({self.vocab_size} characters) has no "
                    f"{shown}{' ...' if len(unknown) > 5 else ''}"
                )
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=False)

    def check_fits(self, vocab_size: int, where: str = "the model") -> None:
        """DataError unless this tokenizer's ids are exactly ``vocab_size``'s range."""
        if self.vocab_size != vocab_size:
            raise DataError(
                f"the tokenizer has {self.vocab_size} tokens but {where} predicts "
                f"{vocab_size}; it is not the model's tokenizer"
            )
