"""What the training loop feeds the model: data from ``acn.data``, fitted to and checked against it.

Everything here runs before the first step, so a dataset that does not fit the model (image
shape, label range, vocabulary) fails in one line instead of in the middle of training.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..data import AugmentConfig, Batches, DataSplits, load_data, per_class, prepare_batch
from ..data.splits import select_classes
from ..errors import ConfigError, DataError
from ..evaluation import check_labels
from ..models.base import StackModel
from ..models.registry import FAMILIES, get_preset
from .config import TrainConfig

# model config fields a dataset determines, per data kind
_FROM_DATA = {
    "image": ("num_classes",),
    "vector": ("num_classes",),
    "text": ("num_classes", "vocab_size", "max_len", "pad_id"),
}


@dataclass
class TrainData:
    """The loaded splits and how a batch is turned into model input."""

    splits: DataSplits
    augment: AugmentConfig

    @property
    def info(self) -> dict[str, Any]:
        return self.splits.info

    @property
    def kind(self) -> str:
        return self.info["kind"]

    def prepare(
        self, x: Tensor, y: Tensor, train: bool, gen: torch.Generator | None, num_classes: int
    ) -> tuple[Tensor, Tensor]:
        """Raw batch -> (model input, int labels or soft CutMix targets); token ids pass as-is."""
        return prepare_batch(x, y, train, self.augment, gen, num_classes)

    def test_batches(
        self, batch_size: int, device: torch.device, rows: tuple[int, int] | None = None
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Prepared test batches (no augmentation), optionally only test rows [lo, hi)."""
        test = self.splits.test
        if rows is not None:
            test = test.subset(torch.arange(*rows))
        if len(test) == 0:
            return
        num_classes = self.info["num_classes"]
        for x, y in Batches(test, batch_size, shuffle=False):
            yield self.prepare(x.to(device), y.to(device), False, None, num_classes)


def load_train_data(cfg: TrainConfig) -> TrainData:
    """Load ``cfg.data`` with its class / per-class subsets and the augmentation config."""
    d = cfg.data
    splits = load_data(d.spec, **d.options)
    kind = splits.info["kind"]
    if kind not in _FROM_DATA:
        raise ConfigError(
            f"acn train does not support {kind!r} data ({d.spec}); use a classification dataset"
        )
    if d.classes is not None:
        splits = splits.map(lambda ds: select_classes(ds, d.classes))
    if d.per_class is not None:
        train = per_class(splits.train, d.per_class, seed=cfg.seed, mode=d.per_class_mode)
        splits = DataSplits(train, splits.test, {**splits.info, "num_train": len(train)})
    a = cfg.augment
    image_options = dict(
        crop_padding=a.crop_padding,
        flip=a.flip,
        cutmix_prob=a.cutmix_prob,
        cutmix_alpha=a.cutmix_alpha,
    )
    augment = AugmentConfig.from_info(splits.info, **image_options)
    if not a.normalize:
        augment = AugmentConfig(**image_options)
    return TrainData(splits, augment)


def model_values(cfg: TrainConfig, info: dict[str, Any]) -> dict[str, Any]:
    """``cfg.model.overrides`` completed with what the data determines (classes, vocabulary).

    A value the user set explicitly is kept, and checked by :func:`check_fit`.
    """
    values = dict(cfg.model.overrides)
    fields = FAMILIES[get_preset(cfg.model.name).family].config_class.__dataclass_fields__
    for key in _FROM_DATA[info["kind"]]:
        if key in info and key in fields and key not in values:
            values[key] = info[key]
    return values


def check_fit(model: StackModel, data: TrainData) -> None:
    """One-line DataError if the data's inputs or labels do not fit ``model``."""
    info, c = data.info, model.config
    example = tuple(model.example_input(1).shape[1:])
    shape = tuple(info["input_shape"])
    if data.kind == "text":
        vocab, max_len = getattr(c, "vocab_size", None), getattr(c, "max_len", None)
        if vocab is None:
            raise DataError(
                f"text data ({info['name']}) needs a text model, got a {model.family} model"
            )
        if info.get("vocab_size", 0) > vocab:
            raise DataError(
                f"data vocabulary ({info['vocab_size']}) does not fit the model's vocab_size {vocab}"
            )
        if shape[0] > max_len:
            raise DataError(
                f"data sequences of length {shape[0]} exceed the model's max_len {max_len}"
            )
    elif shape != example and not (
        model.family == "mlp" and math.prod(shape) == math.prod(example)
    ):
        raise DataError(
            f"data {info['name']} has inputs of shape {list(shape)} but model "
            f"{c.name} expects {list(example)}"
        )
    if len(data.splits.test) == 0:
        raise DataError(f"{info['name']} has an empty test split; nothing to evaluate on")
    for split in (data.splits.train, data.splits.test):
        try:
            check_labels(split.y, c.num_classes)
        except DataError as e:
            raise DataError(f"{info['name']} {e}") from None
