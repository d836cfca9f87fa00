"""The embedded default: 5,000 real MNIST digits shipped inside the package.

It lets every command run with no download and no data folder. The 4,000/1,000 split is
stratified (400/100 per class) with a fixed local seed, so it never depends on global RNG.
"""

from __future__ import annotations

import gzip
import io
from importlib import resources

import numpy as np
import torch

from ..dataset import ArrayDataset, DataSplits, make_splits
from ..splits import stratified_indices
from .common import numbered_classes, reading

ASSET = "mnist_5k.csv.gz"
SPLIT_SEED = 0
TEST_PER_CLASS = 100


def load_mnist5k() -> DataSplits:
    """MNIST-5k: train 4,000 / test 1,000 images, uint8 [N,1,28,28], labels 0..9."""
    ref = resources.files("acn") / "assets" / ASSET
    with reading(str(ref), "embedded dataset"):
        raw = gzip.decompress(ref.read_bytes())
        table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64)
    x = torch.from_numpy(table[:, :784].astype(np.uint8)).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(table[:, 784])
    full = ArrayDataset(x, y, numbered_classes(10), "image", source=str(ref))
    counts = torch.bincount(y, minlength=10)
    fraction = TEST_PER_CLASS / int(counts.min())  # 100 of 500 per class
    train_idx, test_idx = stratified_indices(y, fraction, seed=SPLIT_SEED)
    return make_splits("mnist5k", str(ref), full.subset(train_idx), full.subset(test_idx))
