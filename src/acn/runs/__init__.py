"""Run directories: the one home of everything a training run writes and every later command reads.

- :mod:`.config`: the run's resolved config (``config.yaml``) as plain dataclasses;
- :mod:`.inputs`: the data a config trains and tests on, prepared as training does;
- :mod:`.files`: ``metrics.jsonl`` and ``summary.json``;
- :mod:`.run`: :class:`Run`, the one reader of a run directory;
- :mod:`.evaldata`: finding a model file's run and loading its evaluation data.
"""

from .config import CONFIG_FILE, TrainConfig, load_config, load_run_config
from .evaldata import EvalData, eval_data, find_run_config, load_eval_data, run_config
from .files import METRICS_FILE, SUMMARY_FILE, MetricsLog, read_metrics
from .inputs import TrainData, check_fit, load_train_data
from .run import Run

__all__ = [
    "CONFIG_FILE",
    "METRICS_FILE",
    "SUMMARY_FILE",
    "EvalData",
    "MetricsLog",
    "Run",
    "TrainConfig",
    "TrainData",
    "check_fit",
    "eval_data",
    "find_run_config",
    "load_config",
    "load_eval_data",
    "load_run_config",
    "load_train_data",
    "read_metrics",
    "run_config",
]
