"""Helpers shared by the readers: path checks, bounded reads, label checks, and turning
low-level failures into DataError.

Every file a reader opens goes through :func:`open_regular` (never blocks on a FIFO, refuses
devices) and every label through :func:`label_tensor` or :func:`parse_label` (bounded by
:data:`MAX_CLASSES`), so a hostile or mistyped file is one line before memory is spent.
"""

from __future__ import annotations

import contextlib
import csv
import os
import pickle
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from ...errors import ACNError, DataError

CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip

# Everything a corrupt, truncated or unreadable file can raise from the standard readers.
_READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    zlib.error,
    zipfile.BadZipFile,
    tarfile.TarError,
    pickle.UnpicklingError,
    UnicodeDecodeError,
    csv.Error,
    MemoryError,  # an allocation refused at once (a size no check above could know was too big)
)

# Stated limits. A label is a class index, and the widest label set acn meets, ImageNet-21k, has
# 21,841 classes: a larger label is a corrupt or mistyped file, not a class list to build.
MAX_CLASSES = 100_000
# Every split is held in memory as tensors (see acn.data.dataset): CIFAR-10 is 180 MB, a 64x64
# ImageNet 16 GB. A header promising more is refused before anything is allocated.
MAX_ARRAY_BYTES = 16 << 30
# Text is tokenised whole, in Python objects that take ~50x the file's bytes: 256 MiB of text is
# already ~13 GiB while tokenising. Split or sample a larger corpus.
MAX_TEXT_BYTES = 256 << 20


@contextlib.contextmanager
def reading(path: Path | str, what: str = "") -> Iterator[None]:
    """Re-raise any low-level read failure as a one-line DataError naming `path`."""
    try:
        yield
    except ACNError:
        raise
    except _READ_ERRORS as exc:
        detail = str(exc) or type(exc).__name__
        raise DataError(f"cannot read {what or 'file'} {path}: {detail}") from exc


def _kind(mode: int) -> str:
    """What a stat mode is, in words, for messages."""
    for test, name in (
        (stat.S_ISREG, "a file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def existing(path: Path | str, *, want: str = "any") -> Path:
    """`path` expanded; DataError if it does not exist or is not a file/dir as wanted.

    "any" accepts a regular file or a directory; FIFOs, devices and sockets are refused
    everywhere (reading one would block forever or never end)."""
    p = Path(path).expanduser()
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise DataError(f"data path does not exist: {p}") from None
    except OSError as exc:
        raise DataError(f"cannot read data path {p}: {exc.strerror or exc}") from None
    is_dir, is_file = stat.S_ISDIR(mode), stat.S_ISREG(mode)
    if want == "dir" and not is_dir:
        raise DataError(f"expected a directory, got {_kind(mode)}: {p}")
    if want == "file" and not is_file:
        raise DataError(f"expected a regular file, got {_kind(mode)}: {p}")
    if not (is_dir or is_file):
        raise DataError(f"expected a regular file or a directory, got {_kind(mode)}: {p}")
    return p


def open_regular(path: Path | str, limit: int | None = None, what: str = "file") -> BinaryIO:
    """``path`` opened for binary reading, refused in one line unless it is a regular file of
    at most ``limit`` bytes. Opened non-blocking first, so that a FIFO is seen (by fstat) instead
    of waited on; the check is on the opened file, so a path swapped meanwhile cannot slip by."""
    p = Path(path).expanduser()
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise DataError(f"data path does not exist: {p}") from None
    except OSError as exc:
        raise DataError(f"cannot read {what} {p}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"expected a regular file, got {_kind(st.st_mode)}: {p}")
        if limit is not None and st.st_size > limit:
            raise DataError(
                f"{what} {p} is {format_size(st.st_size)}, more than the {format_size(limit)} acn reads"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_limited(path: Path | str, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see :func:`open_regular`)."""
    with open_regular(path, limit, what) as f, reading(path, what):
        data = f.read(limit + 1)
    if len(data) > limit:  # grew since it was opened
        raise DataError(f"{what} {path} is more than the {format_size(limit)} acn reads")
    return data


def format_size(n: int) -> str:
    """Bytes in words for messages: '2.0 GiB', '44.9 MiB', '64 bytes'."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


def numbered_classes(n: int) -> list[str]:
    return [str(i) for i in range(n)]


def check_label_bound(top: int, source: Path | str) -> None:
    """DataError for a label too large to be a class index (see :data:`MAX_CLASSES`)."""
    if top >= MAX_CLASSES:
        raise DataError(
            f"{source}: label {top} is not a class index acn accepts (0..{MAX_CLASSES - 1:,})"
        )


_DECIMAL = re.compile(r"[0-9]+")


def is_integer_label(text: str) -> bool:
    """True for ASCII decimal digits only ("²" and "٣" pass str.isdigit but are not labels)."""
    return _DECIMAL.fullmatch(text) is not None


def parse_label(text: str, source: Path | str) -> int:
    """A class index written as text (a WebDataset .cls, a TSV cell); DataError otherwise."""
    text = text.strip()
    if not is_integer_label(text):
        raise DataError(f"{source}: label {text[:40]!r} is not a class index (0, 1, 2, ...)")
    if len(text.lstrip("0")) > 18:  # int() refuses (or is slow on) very long digit strings
        raise DataError(f"{source}: label {text[:20]}... is not a class index acn accepts")
    label = int(text)
    check_label_bound(label, source)
    return label


def label_tensor(labels: np.ndarray | list[int], source: Path | str) -> torch.Tensor:
    """Labels as int64 [N]; DataError for non-integer, negative or impossibly large values
    (checked on the stored values, before any cast could wrap them)."""
    arr = np.asarray(labels).reshape(-1)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        whole = np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr))
        if not (whole and np.all(arr == np.round(arr))):
            raise DataError(f"{source}: labels must be integers, got dtype {arr.dtype}")
    if arr.size:
        if int(arr.min()) < 0:
            raise DataError(f"{source}: negative label {int(arr.min())}")
        check_label_bound(int(arr.max()), source)
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.int64))


def num_classes(train_labels: torch.Tensor) -> int:
    """Classes of numbered labels: 0..max over the *training* labels. Test labels never widen
    it (a test label outside is refused by ArrayDataset), as a model has no unit for a class it
    never saw in training."""
    return int(train_labels.max()) + 1 if len(train_labels) else 0


def class_names(n: int, source: Path | str) -> list[str]:
    """Human names where the source is recognisably CIFAR-10 / Fashion-MNIST, else 0..n-1."""
    name = str(source).lower()
    if n == 10 and "cifar10" in name.replace("-", ""):
        return list(CIFAR10_CLASSES)
    if n == 10 and "fashion" in name:
        return list(FASHION_MNIST_CLASSES)
    return numbered_classes(n)
