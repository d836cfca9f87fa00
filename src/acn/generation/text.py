"""Text in, text out: a language model's own tokenizer, prompts, and streaming text."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import torch
from torch import Tensor

from ..data.lm_tokenizer import TextTokenizer
from ..errors import DataError
from ..models.base import StackModel


def model_tokenizer(model: StackModel, path: str | Path | None = None) -> TextTokenizer:
    """The tokenizer ``model`` carries (``pretrained_cfg["tokenizer"]``), or the one in the
    tokenizer JSON file ``path``; either must match the model's vocabulary."""
    if path is not None:
        tok = TextTokenizer.from_file(path)
        tok.check_fits(model.config.vocab_size, "the model")
        return tok
    text = model.pretrained_cfg.get("tokenizer")
    if not text:
        raise DataError(
            "the model carries no tokenizer (it was not trained by acn on text); give one "
            "with --tokenizer FILE"
        )
    tok = TextTokenizer.from_json(text, "the model's tokenizer")
    tok.check_fits(model.config.vocab_size, "the model")
    return tok


def encode_prompt(tok: TextTokenizer, prompt: str, device: torch.device | str = "cpu") -> Tensor:
    """[1, T] token ids of ``prompt``; an empty prompt is a DataError."""
    if not prompt:
        raise DataError("the prompt is empty: give --prompt TEXT with at least one character")
    ids = tok.encode(prompt)
    if not ids:
        raise DataError("the prompt encodes to no tokens")
    return torch.tensor([ids], dtype=torch.long, device=device)


class TextStreamer:
    """Writes the text of the new tokens as they are decided (one row). Byte-level BPE tokens
    can end inside a multi-byte character, so text is written up to the last complete one."""

    def __init__(self, tok: TextTokenizer, out: TextIO | None = None) -> None:
        self.tok, self.out = tok, out or sys.stdout
        self.ids: list[int] = []
        self.written = 0

    def put(self, value: Tensor) -> None:
        self.ids.extend(int(v) for v in value.reshape(-1))
        text = self.tok.decode(self.ids)
        if text.endswith("\ufffd"):  # an incomplete character: wait for its next byte
            return
        self._write(text)

    def end(self) -> None:
        self._write(self.tok.decode(self.ids))
        self.out.write("\n")
        self.out.flush()

    def _write(self, text: str) -> None:
        if len(text) > self.written:
            self.out.write(text[self.written :])
            self.out.flush()
            self.written = len(text)


def new_text(tok: TextTokenizer, sequences: Tensor, prompt_tokens: int) -> str:
    """The text of the new tokens of the first row."""
    return tok.decode(sequences[0, prompt_tokens:].tolist())
