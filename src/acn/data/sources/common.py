"""Helpers shared by the readers: path checks and turning low-level failures into DataError."""

from __future__ import annotations

import contextlib
import pickle
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

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
)


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


def existing(path: Path | str, *, want: str = "any") -> Path:
    """`path` expanded; DataError if it does not exist or is not a file/dir as wanted."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"data path does not exist: {p}")
    if want == "dir" and not p.is_dir():
        raise DataError(f"expected a directory, got a file: {p}")
    if want == "file" and not p.is_file():
        raise DataError(f"expected a file, got a directory: {p}")
    return p


def numbered_classes(n: int) -> list[str]:
    return [str(i) for i in range(n)]


def label_tensor(labels: np.ndarray | list[int], source: Path | str) -> torch.Tensor:
    """Labels as int64 [N]; DataError for non-integer or negative values."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise DataError(f"{source}: labels must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise DataError(f"{source}: negative label {int(arr.min())}")
    return torch.from_numpy(np.ascontiguousarray(arr))


def class_names(n: int, source: Path | str) -> list[str]:
    """Human names where the source is recognisably CIFAR-10 / Fashion-MNIST, else 0..n-1."""
    name = str(source).lower()
    if n == 10 and "cifar10" in name.replace("-", ""):
        return list(CIFAR10_CLASSES)
    if n == 10 and "fashion" in name:
        return list(FASHION_MNIST_CLASSES)
    return numbered_classes(n)
