"""The test split a trained model is scored on: the run's own data, prepared as training does.

Compression and pruning must score a model on the data it was trained for, with the same class
subset and the same test-time preparation (``to_float`` + normalisation with the training split's
statistics). Rather than re-deriving that, this reads the run's ``config.yaml`` and uses the
training loop's own :func:`acn.runs.inputs.load_train_data` and :func:`~acn.runs.inputs.check_fit`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor

from ..errors import ConfigError, DataError
from ..models.base import StackModel
from .config import CONFIG_FILE, DataSection, TrainConfig, load_config
from .inputs import TrainData, check_fit, load_train_data


def find_run_config(path: str | Path) -> Path | None:
    """``config.yaml`` of the run that ``path`` (run dir, its checkpoint dir or a file in them)
    belongs to, looking at most two directories up."""
    p = Path(path).expanduser()
    start = p if p.is_dir() else p.parent
    for d in (start, start.parent, start.parent.parent):
        if (d / CONFIG_FILE).is_file():
            return d / CONFIG_FILE
    return None


def run_config(model_path: str | Path, data: str | None = None) -> TrainConfig:
    """The run's config; ``data`` (a dataset spec) replaces its dataset but keeps its class
    subset and normalisation. Without a run config, ``data`` is required."""
    path = find_run_config(model_path)
    if path is None:
        if data is None:
            raise ConfigError(f"{model_path} has no {CONFIG_FILE} next to it; pass --data SPEC")
        return TrainConfig(data=DataSection(spec=data))
    cfg = load_config(path)
    if data is not None:
        cfg.data = dataclasses.replace(cfg.data, spec=data, options={})
    return cfg


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


def eval_data(model: StackModel, model_path: str | Path, data: str | None = None) -> EvalData:
    """Load the test data for ``model`` (see :func:`run_config`) and check that it fits."""
    loaded = load_eval_data(run_config(model_path, data))
    check_fit(model, loaded)
    return loaded
