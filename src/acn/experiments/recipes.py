"""The one recipe format of the experiments: plain nested dicts of TrainConfig values.

A recipe is what ``acn train`` reads from a YAML file, as a dict (``{"model": {...}, "data":
{...}, "optim": {...}, "epochs": 25}``); a change is a dict of the same kind merged into it. Data
is named by value, never by a placeholder in a string:

- a spec string for data the package ships (``"mnist5k"``);
- :class:`Dataset` for data under the user's data root (``--data-root DIR`` or ``$ACN_DATA``):
  what a scale needs is read off its recipes (:func:`datasets_in`), so ``acn reproduce`` can say
  which data an experiment needs before it starts;
- :class:`Generated` for data the package writes itself (the smoke scale's text, see
  :mod:`.synthetic`), so that every smoke run needs nothing but the package.

:func:`train_config` turns a recipe, a connectivity, a seed and the :class:`Sources` into a checked
:class:`~acn.runs.config.TrainConfig`. Experiments at the same scale that train the same
connectivity and seed on the same recipe get the very same config, so the runner trains it once
(runs are keyed by config digest).

- ``SMOKE``: a 3-block Mixer on 200 MNIST-5k digits, 1 epoch: seconds, the same code path.
- ``MNIST_MIXER``: the demo recipe: a deep, narrow Mixer on MNIST-5k.
- ``CIFAR_MIXER``: the paper's 16-layer CIFAR-10 Mixer and recipe (the
  :class:`~acn.runs.config.TrainConfig` defaults), on CIFAR-10 shards under the data root.
- ``CIFAR_SMALL``: the paper's Mixer layer made CPU-sized (8 blocks of width 64 on 8x8 patches)
  on 300 CIFAR-10 training images per class: the CIFAR-10 setting the cpu-scale experiments share.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..runs.config import TrainConfig, load_config, merge
from .synthetic import GENERATORS, write_generated

Recipe = dict[str, Any]
ENV_DATA = "ACN_DATA"


@dataclass(frozen=True)
class Dataset:
    """A dataset under the data root: the spec ``KIND:ROOT/PATH`` once the root is known."""

    kind: str  # a data source name of acn.data (wds, cifar10, cifar100, tsv, text, idx, npz)
    path: str  # relative to the data root
    what: str = ""  # in one line, for the message that asks for it
    more: tuple[str, ...] = ()  # further files of a multi-file source (text:A:B), same root

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path, *self.more)

    def __str__(self) -> str:
        return f"{self.kind}:" + ":".join(f"${ENV_DATA}/{p}" for p in self.paths)


@dataclass(frozen=True)
class Generated:
    """Data the package writes (:mod:`.synthetic`), under the runs directory."""

    kind: str  # the spec kind of the written file or directory
    name: str  # a generator of .synthetic

    def __post_init__(self) -> None:
        if self.name not in GENERATORS:
            raise ValueError(f"no generator {self.name!r}; valid: {', '.join(GENERATORS)}")

    def __str__(self) -> str:
        return f"{self.kind}:<generated {self.name}>"


@dataclass(frozen=True)
class Sources:
    """Where data comes from: the user's data root (None: not given) and the directory the
    package writes generated data into."""

    data_root: Path | None
    generated: Path

    def spec(self, value: Any) -> str:
        """A data spec string for ``value`` (a spec string, :class:`Dataset` or
        :class:`Generated`)."""
        if isinstance(value, Dataset):
            if self.data_root is None:
                raise DataError(needs_message([value]))
            return f"{value.kind}:" + ":".join(str(Path(self.data_root) / p) for p in value.paths)
        if isinstance(value, Generated):
            return f"{value.kind}:{write_generated(value.name, self.generated)}"
        return str(value)


def default_data_root() -> Path | None:
    """``$ACN_DATA`` if set (and not empty), else None."""
    value = os.environ.get(ENV_DATA, "")
    return Path(value).expanduser() if value else None


def datasets_in(values: Any) -> list[Dataset]:
    """Every :class:`Dataset` in a (nested) recipe or scale parameters, once each, in order."""
    return list(dict.fromkeys(_walk(values)))


def _walk(values: Any) -> Iterator[Dataset]:
    if isinstance(values, Dataset):
        yield values
    elif isinstance(values, dict):
        for v in values.values():
            yield from _walk(v)
    elif isinstance(values, (list, tuple)):
        for v in values:
            yield from _walk(v)


def needs_message(datasets: list[Dataset], what: str = "this") -> str:
    """One line: which datasets are needed and how to point acn at them."""
    names = "; ".join(f"{d.path} ({d.what or d.kind})" for d in datasets)
    return (
        f"{what} needs data under a data root: {names}; pass --data-root DIR or set "
        f"${ENV_DATA} to the directory that holds them"
    )


def plain(values: Any) -> Any:
    """``values`` with every :class:`Dataset` / :class:`Generated` written as text (for JSON)."""
    if isinstance(values, (Dataset, Generated)):
        return str(values)
    if isinstance(values, dict):
        return {k: plain(v) for k, v in values.items()}
    if isinstance(values, (list, tuple)):
        return [plain(v) for v in values]
    return values


def train_config(
    recipe: Recipe,
    connectivity: str,
    seed: int,
    sources: Sources,
    changes: Recipe | None = None,
) -> TrainConfig:
    """``recipe`` with ``changes`` merged in, for one connectivity and seed, data resolved."""
    values = merge(copy.deepcopy(recipe), copy.deepcopy(changes or {}))
    values["model"] = {**values.get("model", {}), "connectivity": connectivity}
    values["seed"] = seed
    data = dict(values.get("data", {}))
    data["spec"] = sources.spec(data.get("spec", "mnist5k"))
    values["data"] = data
    return load_config(None, values)


def scale_epochs(recipe: Recipe, ratio: float) -> Recipe:
    """``{"epochs": round(ratio x recipe epochs)}``: the change giving one model a longer budget."""
    return {"epochs": max(1, round(recipe["epochs"] * ratio))}


# 7x7 patches of a 28x28 digit: 16 tokens + cls. 16 blocks of width 32 (see catalog/demo.py)
DEMO_MODEL = {"depth": 16, "patch_size": 7, "dim": 32, "token_hidden": 24, "channel_hidden": 128}
SMOKE_MODEL = {"depth": 3, "patch_size": 7, "dim": 16, "token_hidden": 8, "channel_hidden": 32}
CIFAR10 = Dataset("wds", "cifar10-jpeg-wds", "CIFAR-10 as WebDataset JPEG shards")
CIFAR10_PICKLE = Dataset("cifar10", "cifar10", "the CIFAR-10 python pickle batches")
CIFAR100 = Dataset("cifar100", "cifar-100-python", "the CIFAR-100 python pickle batches")

MNIST_MIXER: Recipe = {
    "model": {"name": "mixer_s8", "overrides": DEMO_MODEL},
    "data": {"spec": "mnist5k"},
    # CutMix and 4-pixel crops slow convergence too much for a few-minute budget on 4,000 digits
    "augment": {"crop_padding": 2, "cutmix_prob": 0.0},
    # decay_params "matrices" is ours (no decay on norms, biases, cls token), as measured
    "optim": {"lr": 2e-3, "warmup_epochs": 1, "decay_params": "matrices"},
    "batch_size": 64,
    "epochs": 25,
    "eval_every": 1,
    "dg_share": True,  # measured on a fixed test batch; changes nothing in training
}
SMOKE: Recipe = merge(
    MNIST_MIXER,
    {
        "model": {"overrides": SMOKE_MODEL},
        "data": {"per_class": 20},
        "optim": {"warmup_epochs": 0},
        "epochs": 1,
        "eval_batch_size": 1000,
        "dg_share_batch": 64,
    },
)
CIFAR_MIXER: Recipe = {
    "model": {"name": "mixer_cifar_paper"},
    "data": {"spec": CIFAR10},
    "epochs": 100,  # Fig. 2
    "eval_every": 5,
    "dg_share": True,
}

# The paper's Mixer layer (mixer_cifar_paper: per-layer tail, cls token) made CPU-sized: 8x8
# patches, width 64, 8 blocks; on the first 4,000 images of each CIFAR-10 split (about 400 per
# class), of which 300 training images per class are kept; flips; the demo's optimizer otherwise.
# First measured by `autocut` (5 classes); the cpu-scale CIFAR-10 settings of `compression`,
# `difficulty` and `lowdata` choose their classes, images per class and epochs on top of it.
CIFAR_SMALL_MODEL = {"depth": 8, "patch_size": 8, "dim": 64, "token_hidden": 32,
                     "channel_hidden": 256}  # fmt: skip
CIFAR_SMALL: Recipe = {
    "model": {"name": "mixer_cifar_paper", "overrides": CIFAR_SMALL_MODEL},
    "data": {"spec": CIFAR10, "options": {"limit": 4000}, "per_class": 300},
    "batch_size": 64,
    "optim": {"lr": 2e-3, "warmup_epochs": 1},
    "augment": {"cutmix_prob": 0.0, "flip": True},
    "epochs": 12,
}
