"""NumPy .npz: arrays x, y and optionally x_test, y_test (and `classes`, a string array).

The kind is inferred from x: 4-D (NCHW or NHWC) or 3-D (grayscale NHW) -> image, 2-D ->
vector. Image arrays may be uint8 or float in [0, 1]. Without x_test a deterministic stratified
`test_fraction` of x is held out.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import torch
from numpy.lib import format as npy

from ...errors import DataError
from ..dataset import ArrayDataset, DataSplits, make_splits
from ..splits import stratified_split
from .common import (
    MAX_ARRAY_BYTES,
    existing,
    format_size,
    label_tensor,
    num_classes,
    numbered_classes,
    open_regular,
    reading,
)

_HEADER_READERS = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}


def _as_images(x: np.ndarray, path: Path) -> torch.Tensor:
    if x.ndim == 3:
        x = x[:, None]
    elif x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = x.transpose(0, 3, 1, 2)  # NHWC (the usual numpy/PIL layout) -> NCHW
    if x.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(x))
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"image array must be uint8 or float, got {x.dtype}: {path}")
    _check_finite(x, path)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise DataError(f"float images must lie in [0, 1] (or store uint8 0..255): {path}")
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _check_finite(x: np.ndarray, path: Path) -> None:
    """NaN passes every range check (all comparisons with it are false): refuse it by name."""
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise DataError(
            f"array holds a non-finite value ({x[tuple(bad)]} at index {bad.tolist()}): {path}"
        )


def _as_inputs(x: np.ndarray, path: Path) -> tuple[torch.Tensor, str]:
    if x.ndim in (3, 4):
        return _as_images(x, path), "image"
    if x.ndim == 2:
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise DataError(f"vector array must be numeric, got {x.dtype}: {path}")
        _check_finite(x, path)
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), "vector"
    raise DataError(f"x must be 2-D (vectors), 3-D or 4-D (images), got shape {x.shape}: {path}")


def _member_sizes(z: zipfile.ZipFile, p: Path) -> None:
    """Check every array's header against the bytes its member really holds, and the total
    against :data:`MAX_ARRAY_BYTES`, before numpy allocates what a header promises."""
    total = 0
    for info in z.infolist():
        name = info.filename.removesuffix(".npy")
        with z.open(info) as member:
            version = npy.read_magic(member)
            if version not in _HEADER_READERS:
                raise DataError(f"array {name!r} in {p} uses .npy format {version}; save it again")
            shape, _, dtype = _HEADER_READERS[version](member)
            header = member.tell()
        if dtype.hasobject:
            raise DataError(f"array {name!r} in {p} holds Python objects; store plain numbers")
        declared = math.prod(shape) * dtype.itemsize
        if declared != info.file_size - header:
            raise DataError(
                f"array {name!r} in {p} claims shape {tuple(shape)} of {dtype} ({declared:,} "
                f"bytes) but holds {info.file_size - header:,} bytes: a corrupt or crafted file"
            )
        total += declared
    if total > MAX_ARRAY_BYTES:
        raise DataError(
            f"{p} holds {format_size(total)} of arrays, more than the "
            f"{format_size(MAX_ARRAY_BYTES)} acn loads into memory"
        )


def read_npz(p: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, refused in one line if a header does not fit its member."""
    with open_regular(p, what="npz file") as f, reading(p, "npz file"):
        with zipfile.ZipFile(f) as z:
            _member_sizes(z, p)
        f.seek(0)
        with np.load(f, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}


def load_npz(path: str, test_fraction: float = 0.2, seed: int = 0) -> DataSplits:
    """Train/test from an .npz file (see module docstring)."""
    p = existing(path, want="file")
    arrays = read_npz(p)
    for key in ("x", "y"):
        if key not in arrays:
            raise DataError(f"npz file lacks array {key!r} (has {sorted(arrays)}): {p}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"npz file must have both x_test and y_test or neither: {p}")
    x, kind = _as_inputs(arrays["x"], p)
    y = label_tensor(arrays["y"], p)
    tests = None
    if "x_test" in arrays:
        tests = (_as_inputs(arrays["x_test"], p)[0], label_tensor(arrays["y_test"], p))
    if "classes" in arrays:
        classes = [str(c) for c in arrays["classes"].tolist()]
    else:
        classes = numbered_classes(num_classes(y))
    train = ArrayDataset(x, y, classes, kind, source=str(p))
    if tests is not None:
        test = ArrayDataset(tests[0], tests[1], classes, kind, source=f"{p} (x_test)")
    else:
        train, test = stratified_split(train, test_fraction, seed)
    return make_splits(f"npz:{p.stem}", str(p), train, test)
