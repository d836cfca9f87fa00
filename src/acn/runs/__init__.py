"""Run directories: the one home of everything a training run writes and every later command reads.

- :mod:`.config`: the run's resolved config (``config.yaml``) as plain dataclasses, read through
  :mod:`.yaml_file` (bounded, alias bombs refused);
- :mod:`.inputs`: the data a config trains and tests on, prepared as training does;
- :mod:`.files`: writing ``metrics.jsonl`` and ``summary.json``;
- :mod:`.run`: :class:`Run`, the one reader of a run directory;
- :mod:`.preprocessing`: a model's ``pretrained_cfg`` (its data, normalisation, tokenizer) derived
  from the data it trained on, and the evaluation data rebuilt from it;
- :mod:`.evaldata`: the test data of a model file, pretrained directory or run.
"""

from .config import CONFIG_FILE, TrainConfig, load_config
from .evaldata import EvalData, eval_config, eval_data, load_eval_data
from .files import METRICS_FILE, SUMMARY_FILE, MetricsLog
from .inputs import TrainData, check_fit, load_train_data
from .preprocessing import describe_preprocessing
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
    "describe_preprocessing",
    "eval_config",
    "eval_data",
    "load_config",
    "load_eval_data",
    "load_train_data",
]
