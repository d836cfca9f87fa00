"""Training: ``train(cfg)`` with the paper's recipe, checkpoints, resume and torchrun DDP.

Typical use::

    from acn.train import load_config, train
    cfg = load_config("configs/mnist_mixer_acn.yaml", ["--epochs=5", "--out_dir=runs/x"])
    result = train(cfg)               # writes runs/x/{config.yaml,metrics.jsonl,checkpoint/,summary.json}
    result.summary["accuracy_per_depth"]
    Run(result.run_dir).metrics()     # every evaluation (acn.runs.Run reads a run directory)
"""

from ..runs.config import (
    DataSection,
    ModelSection,
    OptimSection,
    TrainConfig,
    load_config,
    to_yaml,
)
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
    "register_loss",
    "to_yaml",
    "train",
]
