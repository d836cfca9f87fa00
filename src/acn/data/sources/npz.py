"""NumPy .npz: arrays x, y and optionally x_test, y_test (and `classes`, a string array).

The kind is inferred from x: 4-D (NCHW or NHWC) or 3-D (grayscale NHW) -> image, 2-D ->
vector. Image arrays may be uint8 or float in [0, 1]. Without x_test a deterministic stratified
`test_fraction` of x is held out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...errors import DataError
from ..dataset import ArrayDataset, DataSplits, make_splits
from ..splits import stratified_split
from .common import existing, label_tensor, numbered_classes, reading


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


def load_npz(path: str, test_fraction: float = 0.2, seed: int = 0) -> DataSplits:
    """Train/test from an .npz file (see module docstring)."""
    p = existing(path, want="file")
    with reading(p, "npz file"), np.load(p, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
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
        top = max(int(t.max()) + 1 if len(t) else 0 for t in (y, *(tests[1:] if tests else ())))
        classes = numbered_classes(top)
    train = ArrayDataset(x, y, classes, kind, source=str(p))
    if tests is not None:
        test = ArrayDataset(tests[0], tests[1], classes, kind, source=f"{p} (x_test)")
    else:
        train, test = stratified_split(train, test_fraction, seed)
    return make_splits(f"npz:{p.stem}", str(p), train, test)
