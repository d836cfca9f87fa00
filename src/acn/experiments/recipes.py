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

# Language models. nanoGPT's CPU recipe for character-level tiny-shakespeare (its README: 4 layers,
# 4 heads, width 128, context 64, batch 12, 2,000 iterations, lr 1e-3 cosine to 1e-4 after 100
# warmup steps, AdamW betas (0.9, 0.99), weight decay 0.1, dropout 0) as one epoch of 24,000
# windows drawn from the first 90% of the text; configs/gpt_char_nanogpt.yaml is the same recipe
# (a test keeps them equal). The budget of an LM recipe is its number of training windows.
TINY_SHAKESPEARE = Dataset("lm", "tinyshakespeare/input.txt", "tiny-shakespeare, UTF-8 text")
GPT_CHAR_NANOGPT: Recipe = {
    "model": {"name": "gpt_char"},
    "data": {"spec": TINY_SHAKESPEARE, "options": {"tokenizer": "char", "train_windows": 24000}},
    "augment": {"crop_padding": 0, "flip": False, "cutmix_prob": 0.0},
    "optim": {
        "lr": 1e-3,
        "min_lr": 1e-4,
        "betas": [0.9, 0.99],
        "weight_decay": 0.1,
        "decay_params": "matrices",
        "warmup_epochs": 0.05,
        "label_smoothing": 0.0,
        "grad_clip": 1.0,
    },  # fmt: skip
    "epochs": 1,
    "batch_size": 12,
    "eval_batch_size": 200,
}
# The smoke scale's LM: a 3-block width-16 character GPT (context 16) on the generated corpus
# (about 56,000 characters), 10 steps of 12 windows.
SMOKE_GPT = {"depth": 3, "dim": 16, "num_heads": 2, "max_len": 16}
SMOKE_LM: Recipe = merge(
    GPT_CHAR_NANOGPT,
    {
        "model": {"overrides": SMOKE_GPT},
        "data": {
            "spec": Generated("lm", "corpus"),
            "options": {"context": 16, "train_windows": 120},
        },  # fmt: skip
        "optim": {"lr": 3e-3},
    },
)


def scale_windows(recipe: Recipe, ratio: float) -> Recipe:
    """The change training an LM recipe ``ratio`` times as long: ``ratio`` x its training windows
    (one epoch), with the same number of warmup steps."""
    options = recipe["data"]["options"]
    warmup = recipe["optim"]["warmup_epochs"]
    return {
        "data": {"options": {"train_windows": max(1, round(options["train_windows"] * ratio))}},
        "optim": {"warmup_epochs": warmup / ratio},
    }


# The paper scale of the LM experiments: GPT-2 small's shapes (124M) on the user's
# OpenWebText-style text with a 50,257-token BPE fitted to it, context 1024, as
# configs/gpt2_small_owt.yaml (a plan for torchrun on GPUs: a dry run here).
OPENWEBTEXT = Dataset("lm", "openwebtext/train.txt", "an OpenWebText-style UTF-8 text file")
GPT2_SMALL_OWT: Recipe = {
    "model": {"name": "gpt2_small"},
    "data": {"spec": OPENWEBTEXT, "options": {"tokenizer": "bpe", "vocab_size": 50257,
                                               "train_windows": 288000, "val_fraction": 0.005}},
    "augment": {"crop_padding": 0, "flip": False, "cutmix_prob": 0.0},
    "optim": {"lr": 6e-4, "min_lr": 6e-5, "betas": [0.9, 0.95], "weight_decay": 0.1,
              "decay_params": "matrices", "warmup_epochs": 0.1, "label_smoothing": 0.0,
              "grad_clip": 1.0},
    "strategy": "fsdp",
    "epochs": 1,
    "batch_size": 480,
    "eval_batch_size": 16,
}  # fmt: skip
