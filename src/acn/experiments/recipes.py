"""The training recipes the reproduce experiments share: plain nested dicts of TrainConfig values.

An experiment's :class:`~acn.experiments.suite.Scale` holds one of these under ``params["train"]``
and builds each run's config with :func:`train_config`. Experiments at the same scale that train
the same connectivity and seed on the same recipe get the very same config, so the runner trains
it once (runs are keyed by config digest).

- ``SMOKE``: a 3-block Mixer on 200 MNIST-5k digits, 1 epoch: seconds, the same code path.
- ``MNIST_MIXER``: the demo recipe (see :mod:`.demo`): a deep, narrow Mixer on MNIST-5k.
- ``CIFAR_MIXER``: the paper's 16-layer CIFAR-10 Mixer and recipe (paper App. B; the
  :class:`~acn.runs.config.TrainConfig` defaults), on the CIFAR-10 shards under ``--data``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..runs.config import TrainConfig, load_config, merge

# 7x7 patches of a 28x28 digit: 16 tokens + cls. 16 blocks of width 32 (see demo.py for the choice)
DEMO_MODEL = {"depth": 16, "patch_size": 7, "dim": 32, "token_hidden": 24, "channel_hidden": 128}
SMOKE_MODEL = {"depth": 3, "patch_size": 7, "dim": 16, "token_hidden": 8, "channel_hidden": 32}

MNIST_MIXER: dict[str, Any] = {
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
SMOKE: dict[str, Any] = merge(
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
CIFAR_MIXER: dict[str, Any] = {
    "model": {"name": "mixer_cifar_paper"},
    "data": {"spec": "wds:{data}/cifar10-jpeg-wds"},
    "epochs": 100,  # Fig. 2
    "eval_every": 5,
    "dg_share": True,
}


def train_config(
    recipe: dict[str, Any],
    connectivity: str,
    seed: int,
    data_root: Path | str,
    changes: dict[str, Any] | None = None,
) -> TrainConfig:
    """``recipe`` with ``changes`` merged in, for one connectivity and seed; ``{data}`` in the
    data spec becomes ``data_root``."""
    values = merge(copy.deepcopy(recipe), copy.deepcopy(changes or {}))
    values["model"] = {**values["model"], "connectivity": connectivity}
    values["seed"] = seed
    data = dict(values.get("data", {}))
    data["spec"] = str(data.get("spec", "mnist5k")).format(data=Path(data_root))
    values["data"] = data
    return load_config(None, values)


def scale_epochs(recipe: dict[str, Any], ratio: float) -> dict[str, Any]:
    """``{"epochs": round(ratio x recipe epochs)}``: the change giving one model a longer budget."""
    return {"epochs": max(1, round(recipe["epochs"] * ratio))}
