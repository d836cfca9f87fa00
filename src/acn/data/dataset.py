"""In-memory datasets: every dataset the project uses fits in RAM as a pair of tensors.

Keeping whole splits as tensors (CIFAR-10 train is 150 MB of uint8) lets the loader slice
batches with one indexing op and lets transforms run batched on any device, with no
DataLoader worker processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from ..errors import DataError

KINDS = ("image", "vector", "text", "mlm", "lm")
# x dtypes each kind may hold: images stay uint8 (or float in [0, 1]) until the batch transform.
_X_DTYPES = {
    "image": (torch.uint8, torch.float32),
    "vector": (torch.float32,),
    "text": (torch.int64,),
    "mlm": (torch.int64,),
    "lm": (torch.int64,),  # windows of context + 1 token ids (acn.data.sources.lm)
}
_X_NDIM = {"image": 4, "vector": 2, "text": 2, "mlm": 2, "lm": 2}
UNLABELLED = ("mlm", "lm")  # token data whose labels are the tokens themselves; y is -1


@dataclass
class ArrayDataset:
    """One split held as tensors.

    x: images uint8 [N,C,H,W] (or float32 in [0,1]); vectors float32 [N,D]; token ids int64 [N,T].
    y: int64 labels [N] in 0..len(classes)-1; for kinds "mlm" and "lm" unused and filled with -1.
    task: task id when the dataset is one task of a continual-learning sequence.
    source: where the data came from, used to name it in error messages.
    """

    x: torch.Tensor
    y: torch.Tensor
    classes: list[str]
    kind: str
    task: int | None = None
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise DataError (naming the source) if shapes, dtypes or labels do not fit."""
        where = self.source or "dataset"
        if self.kind not in KINDS:
            raise DataError(f"{where}: unknown data kind {self.kind!r} (expected one of {KINDS})")
        if self.x.dtype not in _X_DTYPES[self.kind] or self.x.dim() != _X_NDIM[self.kind]:
            raise DataError(
                f"{where}: {self.kind} data must be a {_X_NDIM[self.kind]}-D tensor of "
                f"{'/'.join(str(d) for d in _X_DTYPES[self.kind])}, got "
                f"{tuple(self.x.shape)} {self.x.dtype}"
            )
        if self.y.dim() != 1 or self.y.dtype != torch.int64:
            raise DataError(
                f"{where}: labels must be int64 [N], got {tuple(self.y.shape)} {self.y.dtype}"
            )
        if len(self.x) != len(self.y):
            raise DataError(f"{where}: {len(self.x)} inputs but {len(self.y)} labels")
        if self.kind not in UNLABELLED and len(self.y):
            lo, hi = int(self.y.min()), int(self.y.max())
            if lo < 0 or hi >= len(self.classes):
                bad = lo if lo < 0 else hi
                raise DataError(
                    f"{where}: label {bad} out of range for {len(self.classes)} classes"
                )

    def __len__(self) -> int:
        return len(self.y)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, idx: torch.Tensor | Sequence[int]) -> ArrayDataset:
        """Rows `idx` (indices or a boolean mask), keeping classes, kind and task."""
        idx = torch.as_tensor(idx)
        if idx.dtype != torch.bool:
            idx = idx.long()
        return replace(self, x=self.x[idx], y=self.y[idx])


@dataclass
class DataSplits:
    """A train and a test split plus `info`, the facts a model and training loop need.

    info keys: name, source, kind, num_classes, classes, input_shape (per sample), num_train,
    num_test; images also mean/std (per channel, [0,1] pixel scale, from the train split);
    text also vocab_size, max_len, pad_id, unk_id, cls_id, sep_id, mask_id, special_ids,
    tokenizer_path.
    """

    train: ArrayDataset
    test: ArrayDataset
    info: dict[str, Any]

    def map(self, fn: Callable[[ArrayDataset], ArrayDataset]) -> DataSplits:
        """Apply `fn` (e.g. a class subset) to both splits and refresh the size/class info."""
        train, test = fn(self.train), fn(self.test)
        info = dict(self.info)
        info.update(
            num_classes=train.num_classes,
            classes=list(train.classes),
            num_train=len(train),
            num_test=len(test),
        )
        return DataSplits(train, test, info)

    def describe(self) -> str:
        """One line for logs and the CLI."""
        i = self.info
        return (
            f"{i.get('name')}: {i.get('kind')} {tuple(i.get('input_shape', ()))}, "
            f"{i.get('num_classes')} classes, {len(self.train)} train / {len(self.test)} test"
        )


def channel_stats(x: torch.Tensor, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean/std of images [N,C,H,W] on the [0,1] scale (population std)."""
    c = x.shape[1]
    if x.dtype == torch.uint8:
        # Exact and fast: a 256-bin histogram per channel instead of 150M float operations.
        levels = torch.arange(256, dtype=torch.float64) / 255.0
        hist = torch.stack([torch.bincount(x[:, i].reshape(-1), minlength=256) for i in range(c)])
        hist = hist.to(torch.float64)
        count = hist.sum(1).clamp_min(1.0)
        mean = (hist * levels).sum(1) / count
        var = (hist * levels**2).sum(1) / count - mean**2
    else:  # float images: float64 sums in chunks, never one full-size float64 copy
        total = torch.zeros(c, dtype=torch.float64)
        total_sq = torch.zeros(c, dtype=torch.float64)
        for start in range(0, len(x), chunk):
            part = x[start : start + chunk].to(torch.float64)
            total += part.sum(dim=(0, 2, 3))
            total_sq += (part * part).sum(dim=(0, 2, 3))
        count = max(1, x.shape[0] * x.shape[2] * x.shape[3])
        mean = total / count
        var = total_sq / count - mean * mean
    std = var.clamp_min(1e-12).sqrt()
    return [round(float(m), 6) for m in mean], [round(float(s), 6) for s in std]


def make_splits(
    name: str, source: str, train: ArrayDataset, test: ArrayDataset, **extra: Any
) -> DataSplits:
    """Bundle two splits with the standard info dict (see DataSplits)."""
    if train.kind != test.kind or train.x.shape[1:] != test.x.shape[1:]:
        raise DataError(
            f"{source}: train and test do not match ({train.kind} {tuple(train.x.shape[1:])} vs "
            f"{test.kind} {tuple(test.x.shape[1:])})"
        )
    if len(train) == 0:
        raise DataError(f"{source}: the training split is empty")
    info: dict[str, Any] = {
        "name": name,
        "source": source,
        "kind": train.kind,
        "num_classes": train.num_classes,
        "classes": list(train.classes),
        "input_shape": tuple(train.x.shape[1:]),
        "num_train": len(train),
        "num_test": len(test),
    }
    if train.kind == "image":
        info["mean"], info["std"] = channel_stats(train.x)
    info.update(extra)
    return DataSplits(train, test, info)
