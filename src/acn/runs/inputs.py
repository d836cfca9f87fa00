"""What the training loop feeds the model: data from ``acn.data``, fitted to and checked against it.

Everything here runs before the first step, so a dataset that does not fit the model (image
shape, label range, vocabulary) fails in one line instead of in the middle of training.

Masked-LM data (kind "mlm", e.g. ``text:FILE``) is corrupted per batch by
:func:`~acn.data.mlm_mask` (15% of the non-special tokens; 80/10/10) and its labels are the
original ids at the selected positions, -100 elsewhere. Training batches draw the masks from the
loop's per-(seed, epoch) augmentation generator, so they are a function of (seed, epoch, step)
and a resumed or multi-process run masks exactly what the uninterrupted one does; the test split
is masked once with a fixed seed, so every evaluation (any batch size, any number of processes)
scores the same positions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..data import (
    AugmentConfig,
    Batches,
    DataSplits,
    load_data,
    mlm_mask,
    per_class,
    prepare_batch,
)
from ..data.registry import parse_spec
from ..data.splits import select_classes, stratified_split
from ..errors import ConfigError, DataError
from ..evaluation import check_labels
from ..models.base import StackModel
from ..models.gpt import GPTModel
from ..models.registry import FAMILIES, get_preset
from .config import TrainConfig

# model config fields a dataset determines, per data kind
_FROM_DATA = {
    "image": ("num_classes",),
    "vector": ("num_classes",),
    "text": ("num_classes", "vocab_size", "max_len", "pad_id"),
    "mlm": ("vocab_size", "max_len", "pad_id"),
    "lm": ("vocab_size", "max_len"),
}
# the model head each token-data kind needs (BertConfig.head)
_TEXT_HEADS = {"text": "cls", "mlm": "mlm"}

MLM_PROB = 0.15  # BERT's masking rate
VALIDATION_SEED = 0  # the held-out rows of data.validation
TEST_MASK_SEED = 0  # the test split's masks: fixed, so runs with different seeds score alike


@dataclass
class TrainData:
    """The loaded splits and how a batch is turned into model input."""

    splits: DataSplits
    augment: AugmentConfig
    _masked_test: tuple[Tensor, Tensor] | None = None

    @property
    def info(self) -> dict[str, Any]:
        return self.splits.info

    @property
    def kind(self) -> str:
        return self.info["kind"]

    def prepare(
        self, x: Tensor, y: Tensor, train: bool, gen: torch.Generator | None, num_classes: int
    ) -> tuple[Tensor, Tensor]:
        """Raw batch -> (model input, int labels or soft CutMix targets); token ids pass as-is.

        Masked-LM batches -> (masked ids, token labels [B, T] with -100 where not masked), the
        masks drawn from ``gen``. Causal-LM windows [B, T + 1] -> (tokens 0..T-1, next tokens
        1..T)."""
        if self.kind == "mlm":
            return self._mask(x, gen)
        if self.kind == "lm":
            return x[:, :-1], x[:, 1:]
        return prepare_batch(x, y, train, self.augment, gen, num_classes)

    def _mask(self, ids: Tensor, gen: torch.Generator | None) -> tuple[Tensor, Tensor]:
        i = self.info
        return mlm_mask(ids, i["vocab_size"], i["mask_id"], i["special_ids"], MLM_PROB, gen)

    def test_batches(
        self, batch_size: int, device: torch.device, rows: tuple[int, int] | None = None
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Prepared test batches (no augmentation), optionally only test rows [lo, hi)."""
        test = self.splits.test
        if self.kind == "mlm":
            yield from self._masked_test_batches(batch_size, device, rows)
            return
        if rows is not None:
            test = test.subset(torch.arange(*rows))
        if len(test) == 0:
            return
        num_classes = self.info["num_classes"]
        for x, y in Batches(test, batch_size, shuffle=False):
            yield self.prepare(x.to(device), y.to(device), False, None, num_classes)

    def _masked_test_batches(
        self, batch_size: int, device: torch.device, rows: tuple[int, int] | None
    ) -> Iterator[tuple[Tensor, Tensor]]:
        if self._masked_test is None:  # the whole split at once: masks independent of batching
            gen = torch.Generator().manual_seed(TEST_MASK_SEED)
            self._masked_test = self._mask(self.splits.test.x, gen)
        inputs, labels = self._masked_test
        lo, hi = rows if rows is not None else (0, len(inputs))
        for start in range(lo, hi, batch_size):
            end = min(start + batch_size, hi)
            yield inputs[start:end].to(device), labels[start:end].to(device)


def load_train_data(cfg: TrainConfig) -> TrainData:
    """Load ``cfg.data`` with its class / per-class subsets and the augmentation config."""
    d = cfg.data
    splits = load_data(d.spec, **lm_options(cfg))
    kind = splits.info["kind"]
    if kind not in _FROM_DATA:
        raise ConfigError(
            f"acn train does not support {kind!r} data ({d.spec}); use a classification or "
            "masked-LM text dataset"
        )
    if kind in ("mlm", "lm") and (d.classes is not None or d.per_class is not None):
        raise ConfigError(
            f"data.classes and data.per_class need labelled data; {d.spec} is raw text"
        )
    if kind == "lm" and d.validation:
        raise ConfigError(
            f"{d.spec} already holds out its validation text (the data option val_fraction); "
            "data.validation is for labelled data"
        )
    if d.validation:
        splits = validation_splits(splits, d.validation)
    if d.classes is not None:
        splits = splits.map(lambda ds: select_classes(ds, d.classes))
    if d.per_class is not None:
        train = per_class(splits.train, d.per_class, seed=cfg.seed, mode=d.per_class_mode)
        splits = DataSplits(train, splits.test, {**splits.info, "num_train": len(train)})
    augment = AugmentConfig.from_info(splits.info, **dataclasses.asdict(cfg.augment))
    return TrainData(splits, augment)


def lm_options(cfg: TrainConfig) -> dict[str, Any]:
    """``data.options``; for causal-LM text (``lm:FILE``) the window length ``context``
    defaults to the model's context (``max_len``), so one setting sizes both."""
    options = dict(cfg.data.options)
    if parse_spec(cfg.data.spec)[0] == "lm" and options.get("context") is None:
        preset = get_preset(cfg.model.name)
        context = cfg.model.overrides.get("max_len", preset.defaults.get("max_len"))
        if context is not None:
            options["context"] = context
    return options


def validation_splits(splits: DataSplits, fraction: float) -> DataSplits:
    """Train minus a stratified ``fraction`` of it, and that held-out part in place of the test
    split. The draw is fixed (seed 0) so every seed and config is judged on the same rows; the
    normalisation statistics stay those of the whole training split."""
    if not 0 < fraction < 1:
        raise ConfigError(f"data.validation must be between 0 and 1 (0: off), got {fraction}")
    train, val = stratified_split(splits.train, fraction, seed=VALIDATION_SEED)
    name = f"{splits.info['name']} (validation: {fraction:g} of train)"
    info = {**splits.info, "name": name, "num_train": len(train), "num_test": len(val)}
    return DataSplits(train, val, info)


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
    if data.kind == "lm":
        _check_lm_fit(model, info)
    elif data.kind in _TEXT_HEADS:
        vocab, max_len = getattr(c, "vocab_size", None), getattr(c, "max_len", None)
        if vocab is None:
            raise DataError(
                f"text data ({info['name']}) needs a text model, got a {model.family} model"
            )
        head = _TEXT_HEADS[data.kind]
        if getattr(c, "head", head) != head:
            task = "masked-LM text" if data.kind == "mlm" else "labelled text"
            raise DataError(
                f"{task} data ({info['name']}) needs a model with head={head!r}, "
                f"{c.name} has head={c.head!r}"
            )
        if info.get("vocab_size", 0) > vocab:
            raise DataError(
                f"data vocabulary ({info['vocab_size']}) does not fit the model's vocab_size {vocab}"
            )
        if shape[0] > max_len:
            raise DataError(
                f"data sequences of length {shape[0]} exceed the model's max_len {max_len}"
            )
    elif shape != example and not (model.flattens_input and math.prod(shape) == math.prod(example)):
        raise DataError(
            f"data {info['name']} has inputs of shape {list(shape)} but model "
            f"{c.name} expects {list(example)}"
        )
    if len(data.splits.test) == 0:
        raise DataError(f"{info['name']} has an empty test split; nothing to evaluate on")
    if data.kind in ("mlm", "lm"):  # token labels are the ids themselves, checked above
        return
    for split in (data.splits.train, data.splits.test):
        try:
            check_labels(split.y, c.num_classes)
        except DataError as e:
            raise DataError(f"{info['name']} {e}") from None


def _check_lm_fit(model: StackModel, info: dict[str, Any]) -> None:
    """Causal-LM windows need a causal model whose vocabulary and context hold them."""
    if not isinstance(model, GPTModel):
        raise DataError(
            f"language-model text ({info['name']}) needs a causal gpt model, got a "
            f"{model.family} model"
        )
    c = model.config
    if info["vocab_size"] > c.vocab_size:
        raise DataError(
            f"the tokenizer's {info['vocab_size']} tokens do not fit the model's vocab_size "
            f"{c.vocab_size}"
        )
    context = info["input_shape"][0] - 1
    if context > c.max_len:
        raise DataError(f"data windows of {context} tokens exceed the model's context {c.max_len}")
