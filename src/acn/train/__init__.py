"""Training: ``train(cfg)`` with the paper's recipe, checkpoints, resume and torchrun DDP.

Typical use::

    from acn.train import load_config, train
    cfg = load_config("configs/mnist_mixer_acn.yaml", ["--epochs=5", "--out_dir=runs/x"])
    result = train(cfg)               # writes runs/x/{config.yaml,metrics.jsonl,checkpoint/,summary.json}
    result.summary["accuracy_per_depth"]
"""

from ..runs.config import (
    DataSection,
    ModelSection,
    OptimSection,
    TrainConfig,
    load_config,
    load_run_config,
    to_yaml,
)
from ..runs.files import read_metrics
from .loop import TrainResult, train
from .losses import LOSSES, get_loss, register_loss

__all__ = [
    "LOSSES",
    "DataSection",
    "ModelSection",
    "OptimSection",
    "TrainConfig",
    "TrainResult",
    "get_loss",
    "load_config",
    "load_run_config",
    "read_metrics",
    "register_loss",
    "to_yaml",
    "train",
]
