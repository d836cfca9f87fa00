"""The test split a trained model is scored on: the data it was trained for, prepared as
training does.

Compression, pruning, probing, early exit and export must score a model on the data it was
trained for, with the same class subset and the same test-time preparation (``to_float`` +
normalisation with the training split's statistics, the model's own tokenizer). A model file
records that in its ``pretrained_cfg`` (:mod:`acn.runs.preprocessing`), so a bare file (or a
pretrained directory) is enough: ``--data SPEC`` points it at data on this machine. Model files
written before acn recorded it are scored through their run directory's ``config.yaml`` (read by
:class:`acn.runs.Run`); nothing walks up directories looking for one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import ConfigError, DataError
from ..models.base import StackModel
from ..models.pretrained import read_pretrained_cfg
from ..serialization import read_metadata, resolve_model_path
from .config import DataSection, TrainConfig
from .inputs import TrainData, check_fit, load_train_data
from .preprocessing import eval_config_from
from .run import Run


class EvalData(TrainData):
    """The loaded data plus :meth:`batches`, an iterator over prepared test batches on the CPU."""

    def batches(self, batch_size: int = 500) -> Iterator[tuple[Tensor, Tensor]]:
        return self.test_batches(batch_size, torch.device("cpu"))


def load_eval_data(cfg: TrainConfig) -> EvalData:
    """The data (with the class subset and test-time preparation) that ``cfg`` trains on."""
    loaded = load_train_data(cfg)
    if len(loaded.splits.test) == 0:
        raise DataError(f"{loaded.info['name']} has an empty test split")
    return EvalData(loaded.splits, loaded.augment)


def with_noise(data: EvalData, sigma: float, salt_pepper: float) -> EvalData:
    """The same test data with test-time noise added to the [0,1] pixels before normalising
    (drawn from the global generator: seed it for a repeatable draw)."""
    if sigma == 0 and salt_pepper == 0:
        return data
    if data.splits.info.get("kind") != "image":
        raise ConfigError("test-time noise (sigma, salt-and-pepper) needs image data")
    augment = dataclasses.replace(data.augment, noise_sigma=sigma, salt_pepper_p=salt_pepper)
    return EvalData(data.splits, augment)


def eval_config(
    source: str | Path, data: str | None = None, pretrained: dict[str, Any] | None = None
) -> TrainConfig:
    """The config whose test split and preparation the model at ``source`` (a model file, a
    pretrained directory or a run directory) was trained for; ``data`` (a dataset spec)
    replaces its dataset, keeping its class subset, normalisation and tokenizer.

    ``pretrained`` is the model's ``pretrained_cfg`` when it is loaded already (else it is read
    from the file's metadata). A model file without one (written by an older acn) falls back to
    its run directory's config when ``source`` is a run directory, and to ``data`` alone (with
    that data's own statistics) otherwise.
    """
    source = Path(source).expanduser()
    if pretrained is None:
        path = resolve_model_path(source)
        pretrained = read_pretrained_cfg(read_metadata(path), str(path))
    if pretrained:
        return eval_config_from(pretrained, data, str(source))
    run = Run(source)
    if source.is_dir() and run.exists:
        cfg = run.config
        if data is not None:
            cfg.data = dataclasses.replace(cfg.data, spec=data, options={})
        return cfg
    if data is None:
        raise ConfigError(
            f"{source} does not record the data it was trained on (a model file written by an "
            "older acn); pass --data SPEC, or its run directory"
        )
    return TrainConfig(data=DataSection(spec=data))


def eval_data(model: StackModel, source: str | Path, data: str | None = None) -> EvalData:
    """The test data of ``model`` (loaded from ``source``; see :func:`eval_config`), checked
    to fit it."""
    loaded = load_eval_data(eval_config(source, data, model.pretrained_cfg))
    check_fit(model, loaded)
    return loaded
