"""CIFAR-10 / CIFAR-100 "python version" pickle batches.

CIFAR-10: data_batch_1..5 + test_batch (+ batches.meta). CIFAR-100: train + test (+ meta),
using fine_labels by default. PATH is that directory or one containing
cifar-10-batches-py / cifar-100-python.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import ConfigError, DataError
from ..dataset import ArrayDataset, DataSplits, make_splits
from .common import (
    CIFAR10_CLASSES,
    MAX_ARRAY_BYTES,
    existing,
    label_tensor,
    numbered_classes,
    open_regular,
    reading,
)

# Unpickling runs whatever callables the file names, so a downloaded "dataset" could execute
# arbitrary code. CIFAR batches only need numpy array reconstruction; allow exactly that.
_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    # Protocol-2 pickles written by Python 3 store bytes as _codecs.encode(text, "latin1"):
    # a pure text->bytes conversion that runs no user code.
    ("_codecs", "encode"),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not numpy data)")
        # Old pickles say numpy.core, which numpy 2 renamed to numpy._core (avoids a warning).
        if module.startswith("numpy.core.") and hasattr(np, "_core"):
            module = "numpy._core." + module[len("numpy.core.") :]
        return super().find_class(module, name)


def load_pickle(path: Path) -> dict[str, Any]:
    """A CIFAR batch dict, with bytes keys (Python 2 pickles) turned into str."""
    with open_regular(path, MAX_ARRAY_BYTES, "CIFAR batch") as f, reading(path, "CIFAR batch"):
        # latin1 is what numpy documents for Python-2 pickles of arrays.
        obj = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    if not isinstance(obj, dict):
        raise DataError(f"not a CIFAR batch (expected a dict, got {type(obj).__name__}): {path}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _images(batch: dict[str, Any], path: Path) -> np.ndarray:
    data = np.asarray(batch.get("data"))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] % 3:
        raise DataError(f"'data' must be uint8 [N, 3*H*W], got {data.shape} {data.dtype}: {path}")
    side = int(round((data.shape[1] // 3) ** 0.5))
    if 3 * side * side != data.shape[1]:
        raise DataError(f"'data' rows of {data.shape[1]} values are not square RGB images: {path}")
    return data.reshape(-1, 3, side, side)


def _read_split(files: list[Path], label_key: str, classes: list[str]) -> ArrayDataset:
    parts = []
    for f in files:
        batch = load_pickle(f)
        if label_key not in batch:
            raise DataError(f"CIFAR batch has no {label_key!r}: {f}")
        x = torch.from_numpy(_images(batch, f).copy())
        # One dataset per file so a bad label or length is reported with that file's name.
        parts.append(
            ArrayDataset(x, label_tensor(batch[label_key], f), classes, "image", source=str(f))
        )
    x, y = torch.cat([p.x for p in parts]), torch.cat([p.y for p in parts])
    return ArrayDataset(x, y, classes, "image", source=str(files[0].parent))


def _locate(path: str, marker: str, subdir: str) -> Path:
    p = existing(path, want="dir")
    if (p / marker).exists():
        return p
    if (p / subdir / marker).exists():
        return p / subdir
    raise DataError(f"no CIFAR '{marker}' file in {p} (nor in {p / subdir})")


def _meta_names(path: Path, key: str) -> list[str] | None:
    names = load_pickle(path).get(key) if path.exists() else None
    return [str(n) for n in names] if names is not None else None


def load_cifar10(path: str) -> DataSplits:
    """CIFAR-10: 50,000 train / 10,000 test uint8 [N,3,32,32]."""
    d = _locate(path, "data_batch_1", "cifar-10-batches-py")
    train_files = sorted(d.glob("data_batch_[0-9]*"), key=lambda f: int(f.name.rsplit("_", 1)[1]))
    test_file = d / "test_batch"
    if not test_file.exists():
        raise DataError(f"missing CIFAR test_batch in {d}")
    classes = _meta_names(d / "batches.meta", "label_names") or list(CIFAR10_CLASSES)
    train = _read_split(train_files, "labels", classes)
    test = _read_split([test_file], "labels", classes)
    return make_splits("cifar10", str(d), train, test)


def load_cifar100(path: str, labels: str = "fine") -> DataSplits:
    """CIFAR-100: 50,000 train / 10,000 test; labels 'fine' (100) or 'coarse' (20)."""
    if labels not in ("fine", "coarse"):
        raise ConfigError(f"CIFAR-100 labels must be 'fine' or 'coarse', got {labels!r}")
    d = _locate(path, "train", "cifar-100-python")
    if not (d / "test").exists():
        raise DataError(f"missing CIFAR-100 test file in {d}")
    n = 100 if labels == "fine" else 20
    classes = _meta_names(d / "meta", f"{labels}_label_names") or numbered_classes(n)
    train = _read_split([d / "train"], f"{labels}_labels", classes)
    test = _read_split([d / "test"], f"{labels}_labels", classes)
    return make_splits("cifar100", str(d), train, test, label_set=labels)
