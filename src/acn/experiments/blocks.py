"""Generated blocks in Markdown: text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``.

``acn report`` rewrites the README's blocks from the results (:mod:`.publish`), and ``acn bench``
its summary block; a block's text is never typed by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError

MAX_README_BYTES = 8 << 20  # a README is kilobytes


def begin(name: str) -> str:
    return f"<!-- {name}:begin -->"


def end(name: str) -> str:
    return f"<!-- {name}:end -->"


def marked(name: str, text: str) -> str:
    """``text`` between the markers of block ``name``."""
    return f"{begin(name)}\n{text}\n{end(name)}"


def find_block(text: str, name: str) -> tuple[int, int] | None:
    """(start, stop) of block ``name`` in ``text`` (markers included), None if it has none; a
    begin marker without its end (or two of them) is a DataError."""
    start = text.find(begin(name))
    if start < 0:
        return None
    if text.find(begin(name), start + 1) >= 0:
        raise DataError(f"block {name} appears twice")
    stop = text.find(end(name), start)
    if stop < 0:
        raise DataError(f"block {name} has no {end(name)} marker")
    return start, stop + len(end(name))


def block_names(text: str) -> list[str]:
    """The names of every generated block in ``text``, in order."""
    return re.findall(r"<!-- ([A-Za-z0-9_.-]+):begin -->", text)


def replace_blocks(text: str, blocks: dict[str, str], where: str = "README") -> str:
    """``text`` with each named block's body replaced; every block must be there."""
    for name, body in blocks.items():
        try:
            span = find_block(text, name)
        except DataError as e:
            raise DataError(f"{where}: {e}") from None
        if span is None:
            raise DataError(f"{where} has no {begin(name)} ... {end(name)} block")
        text = text[: span[0]] + marked(name, body) + text[span[1] :]
    return text


def read_readme(path: Path) -> str:
    """A README's text, or a one-line DataError (missing, not a file, too big, not UTF-8)."""
    try:
        if not path.is_file():
            raise DataError(f"README not found: {path}")
        if path.stat().st_size > MAX_README_BYTES:
            raise DataError(f"{path}: larger than {MAX_README_BYTES >> 20} MiB; not a README")
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}") from None


def check_readme(path: Path, names: list[str]) -> str:
    """A README that holds every block in ``names`` (its text), or a one-line DataError."""
    text = read_readme(path)
    replace_blocks(text, {n: "" for n in names}, str(path))
    return text
