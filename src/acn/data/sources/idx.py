"""IDX files (MNIST / Fashion-MNIST / KMNIST layout), gzipped or not.

A directory holds train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] (the dot variant
`train-images.idx3-ubyte` is accepted too).
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import numpy as np
import torch

from ...errors import DataError
from ..dataset import ArrayDataset, DataSplits, make_splits
from .common import (
    MAX_ARRAY_BYTES,
    class_names,
    existing,
    format_size,
    label_tensor,
    num_classes,
    open_regular,
    reading,
)

# IDX type byte -> numpy dtype (big-endian per the format).
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (gzip detected by magic bytes, not by name), checking the magic and
    the size its header promises before reading the data."""
    with open_regular(path, what="IDX file") as raw, reading(path, "IDX file"):
        packed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        f = gzip.GzipFile(fileobj=raw) if packed else raw
        magic = f.read(4)
        if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] not in _DTYPES:
            raise DataError(f"not an IDX file (bad magic number): {path}")
        dtype, ndim = np.dtype(_DTYPES[magic[2]]), magic[3]
        dims = f.read(4 * ndim)
        if len(dims) < 4 * ndim:
            raise DataError(f"truncated IDX header: {path}")
        shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
        header, size = 4 + 4 * ndim, math.prod(shape) * dtype.itemsize
        if size > MAX_ARRAY_BYTES:
            raise DataError(
                f"IDX header promises {format_size(size)}, more than the "
                f"{format_size(MAX_ARRAY_BYTES)} acn loads into memory: {path}"
            )
        # a raw file's real size is known before reading; a gzip stream is read one byte past
        # the promise, so that a longer one shows
        got = os.fstat(raw.fileno()).st_size - header if not packed else None
        if got is None or got == size:
            data = f.read(size + 1)
            got = len(data)
        if got != size:
            raise DataError(
                f"IDX file has {header + got} bytes, its header promises {header + size} "
                f"(truncated?): {path}"
            )
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def find_idx(directory: Path, split: str, part: str) -> Path:
    """The file for split 'train'/'t10k' and part 'images'/'labels'."""
    rank = "idx3" if part == "images" else "idx1"
    for sep in ("-", "."):
        for suffix in (".gz", ""):
            p = directory / f"{split}-{part}{sep}{rank}-ubyte{suffix}"
            if p.exists():  # a FIFO or directory is found here and refused when opened
                return p
    raise DataError(f"missing {split}-{part}-{rank}-ubyte[.gz] in {directory}")


def has_idx(directory: Path) -> bool:
    return any(directory.glob("*-idx3-ubyte*")) or any(directory.glob("*.idx3-ubyte*"))


def _split(directory: Path, split: str, classes: list[str] | None) -> ArrayDataset:
    img_path, lab_path = find_idx(directory, split, "images"), find_idx(directory, split, "labels")
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3:
        raise DataError(f"expected images [N,H,W], got shape {images.shape}: {img_path}")
    if images.dtype != np.uint8:  # float IDX images are rare; keep the [0,255] scale as uint8
        images = np.clip(images, 0, 255).astype(np.uint8)
    y = label_tensor(labels, lab_path)
    if len(images) != len(y):
        raise DataError(f"{len(images)} images in {img_path} but {len(y)} labels in {lab_path}")
    n = num_classes(y)
    x = torch.from_numpy(images.copy()).unsqueeze(1)
    return ArrayDataset(x, y, classes or class_names(n, directory), "image", source=str(lab_path))


def load_idx(path: str) -> DataSplits:
    """Train/test from the four IDX files in directory `path` (or next to a file `path`)."""
    p = existing(path)
    directory = p if p.is_dir() else p.parent
    train = _split(directory, "train", None)
    test = _split(directory, "t10k", train.classes)
    return make_splits(f"idx:{directory.name}", str(directory), train, test)
