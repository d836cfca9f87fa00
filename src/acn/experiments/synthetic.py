"""Data the package writes for the smoke scale, so that every experiment runs where nothing but
acn is installed: a small English-like corpus for masked-language-model pretraining
(``corpus``, one sentence a line) and a two-class sentiment task in the SST-2 layout
(``sentiment``: ``train.tsv`` and ``dev.tsv`` with a ``sentence``/``label`` header).

Both come from a fixed grammar and a fixed seed: the same bytes on every machine, so a run
trained on them is shared and resumed like any other. A file is written once (atomically) and
rewritten only if its bytes differ from what the generator produces.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from ..utils import atomic_write

SUBJECTS = ("the cat", "a dog", "my friend", "the old man", "our team", "the film", "this book",
            "the singer", "a child", "the city", "her story", "the music")  # fmt: skip
VERBS = ("sees", "likes", "finds", "makes", "tells", "brings", "keeps", "shows", "wants", "hears")
OBJECTS = ("a red ball", "the long road", "some bread", "the small house", "a new song",
           "the river", "an idea", "the garden", "a letter", "the morning light")  # fmt: skip
POSITIVE = ("good", "great", "wonderful", "bright", "warm", "lovely", "brilliant", "fine")
NEGATIVE = ("bad", "awful", "dull", "cold", "poor", "terrible", "weak", "boring")
JOINERS = ("and", "but", "while", "because", "so")


def _sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"


def corpus(lines: int = 800) -> str:
    """One sentence a line: two clauses joined by a conjunction, some with a judgement."""
    rng = random.Random(0)
    out = []
    for _ in range(lines):
        words = f"{_sentence(rng)} {rng.choice(JOINERS)} {_sentence(rng)}"
        if rng.random() < 0.5:
            words += f" and it was {rng.choice(POSITIVE + NEGATIVE)}"
        out.append(words + " .")
    return "\n".join(out) + "\n"


def sentiment_rows(n: int, seed: int) -> str:
    """``n`` labelled rows: label 1 when the judgement words are positive, 0 when negative."""
    rng = random.Random(seed)
    rows = ["sentence\tlabel"]
    for _ in range(n):
        label = rng.randrange(2)
        words = POSITIVE if label else NEGATIVE
        rows.append(f"{_sentence(rng)} , {rng.choice(words)} and {rng.choice(words)} .\t{label}")
    return "\n".join(rows) + "\n"


def _write_text(path: Path, text: str) -> None:
    try:
        if path.read_text(encoding="utf-8") == text:
            return  # unchanged bytes keep their mtime (tokenizer caches key on it)
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _write_corpus(where: Path) -> Path:
    path = where / "corpus.txt"
    _write_text(path, corpus())
    return path


def _write_sentiment(where: Path) -> Path:
    directory = where / "sentiment"
    _write_text(directory / "train.tsv", sentiment_rows(400, seed=1))
    _write_text(directory / "dev.tsv", sentiment_rows(200, seed=2))
    return directory


GENERATORS: dict[str, Callable[[Path], Path]] = {
    "corpus": _write_corpus,
    "sentiment": _write_sentiment,
}


def write_generated(name: str, where: str | Path) -> Path:
    """Write generated dataset ``name`` under ``where`` (if not there already); its path."""
    return GENERATORS[name](Path(where).resolve())
