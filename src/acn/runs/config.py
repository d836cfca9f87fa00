"""Training configuration: plain nested dataclasses, read from YAML plus ``--key=value`` overrides.

A run is fully described by one :class:`TrainConfig`. ``load_config(path, overrides)`` merges, in
order, the dataclass defaults (the authors' CIFAR Mixer training recipe, the paper's section 6,
applied to the 8-layer paper-style Mixer on the embedded MNIST subset so that the bare defaults
train without a download; ``configs/cifar_mixer_paper.yaml`` names the paper's model and data),
the YAML file
and dotted command-line overrides such as ``--optim.lr=3e-4 --model.overrides.depth=4``. Every key
and value is checked against the dataclass fields (and, under ``model.overrides``, against the
model family's config), so a typo is a one-line :class:`~acn.errors.ConfigError` naming the valid
keys. The resolved config is written to the run directory as ``config.yaml``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from ..data.pipeline import PAPER_CIFAR, AugmentConfig
from ..errors import ConfigError
from ..evaluation.cutoff import MAX_RESAMPLES
from ..models.registry import FAMILIES, get_preset
from .yaml_file import MAX_CONFIG_BYTES, parse_yaml, read_yaml

CONFIG_FILE = "config.yaml"
DECAY_PARAMS = ("all", "matrices")  # OptimSection.decay_params


@dataclass
class ModelSection:
    """Which network: a preset, its wiring, and config fields that replace the preset's."""

    # a model that fits the default data; configs/cifar_mixer_paper.yaml sets mixer_cifar_paper
    name: str = "mixer_s8"
    connectivity: str = "acn"
    # e.g. {depth: 4, dim: 32}; num_classes (and vocab_size/max_len for text) default to the data's
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataSection:
    """Which data: a dataset spec for ``acn.data.load_data`` plus deterministic subsets."""

    spec: str = "mnist5k"
    options: dict[str, Any] = field(default_factory=dict)  # passed to load_data (e.g. limit)
    classes: int | list[int] | None = None  # keep the first C classes (or these ids)
    per_class: int | None = None  # keep k training samples per class (low-data regime)
    per_class_mode: str = "random"
    # > 0: hold out this fraction of every training class (fixed draw, seed 0) and evaluate on it
    # instead of the test split, to choose a config without looking at the test set
    validation: float = 0.0


@dataclass
class OptimSection:
    """AdamW with linear warmup then cosine decay, stepped every optimizer step."""

    lr: float = 1e-3
    weight_decay: float = 0.01  # AdamW's default, as the authors' AdamW(model.parameters())
    # which parameters decay: "all" (one group, as the authors' code) or "matrices" (ours, as
    # timm/nanoGPT: no decay on norms, biases, embeddings, cls tokens, position embeddings)
    decay_params: str = "all"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_epochs: float = 10.0
    min_lr: float = 1e-6
    label_smoothing: float = 0.1
    grad_clip: float = 1.0  # max global grad norm; 0 turns clipping off


@dataclass
class AutoCutSection:
    """``acn train --auto-cut``: cut the top blocks the network stopped using while it trains.

    After each evaluation the monitor scores every depth on a validation split carved from the
    training data (``val_fraction`` of every class, drawn with the run's seed; never the test
    set) and takes the cutoff: the smallest depth within ``tolerance`` points of the best depth,
    with a bootstrap 95% interval (``bootstrap`` resamples). Once the interval's upper end has
    stayed below ``depth - margin`` for ``patience`` evaluations in a row (and at least
    ``min_epoch`` epochs are done), the blocks above ``cutoff + margin`` are dropped for good.
    ``cut: false`` only monitors (the same validation split and log, never a cut): a baseline
    trained on exactly the same rows.
    """

    enabled: bool = False
    cut: bool = True
    # defaults chosen on validation data (README, "Cut while training"): of tolerance 1 and 2
    # with margin 0 and patience 2, tolerance 2 lost 1.25 validation points against the
    # uncut ACN, tolerance 1 lost 0.25 for 0.76x its training FLOPs
    tolerance: float = 1.0  # accuracy points below the best depth that still count as "as good"
    margin: int = (
        0  # blocks kept above the cutoff (and the interval must stay below depth - margin)
    )
    patience: int = 2  # consecutive evaluations the cutoff must stay clear of the top
    min_epoch: float = 0.0  # no cut before this many epochs
    val_fraction: float = 0.1  # of every training class, held out for the monitor
    bootstrap: int = 1000  # resamples of the validation split for the cutoff interval

    def validate(self) -> None:
        """Range checks, run when the config is loaded (whether or not auto-cut is on), so a
        bad value is refused before any data is read, not after the first epoch."""
        if not self.tolerance >= 0:
            raise ConfigError(f"auto_cut.tolerance must be >= 0 points, got {self.tolerance}")
        if self.margin < 0:
            raise ConfigError(f"auto_cut.margin must be >= 0 blocks, got {self.margin}")
        if self.patience < 1:
            raise ConfigError(f"auto_cut.patience must be >= 1 evaluations, got {self.patience}")
        if self.min_epoch < 0:
            raise ConfigError(f"auto_cut.min_epoch must be >= 0, got {self.min_epoch}")
        if not 0 < self.val_fraction < 1:  # NaN fails this too
            raise ConfigError(
                f"auto_cut.val_fraction must be between 0 and 1, got {self.val_fraction}"
            )
        if not 1 <= self.bootstrap <= MAX_RESAMPLES:
            raise ConfigError(
                f"auto_cut.bootstrap must be 1..{MAX_RESAMPLES:,} resamples, got {self.bootstrap}"
            )


@dataclass
class TrainConfig:
    """Everything a training run depends on (see the module docstring)."""

    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    # training-time augmentation (the test split is only normalised): the paper's CIFAR recipe
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(**PAPER_CIFAR))
    optim: OptimSection = field(default_factory=OptimSection)
    epochs: int = 300
    batch_size: int = 64  # global: split evenly over DDP processes
    eval_batch_size: int = 500
    eval_every: int = 1  # epochs between evaluations; each evaluation also writes a checkpoint
    seed: int = 0
    device: str = "auto"  # auto = cuda if available, else cpu
    amp: str = "auto"  # auto = bf16 (or fp16 + GradScaler) on CUDA, off on CPU; or off|bf16|fp16
    compile: bool = False  # torch.compile the model's forward for training (see acn bench)
    # under torchrun: ddp (every process holds the model) or fsdp (FSDP2: parameters, gradients
    # and optimizer state sharded over processes; see acn.train.fsdp); one process: ignored
    strategy: str = "ddp"
    out_dir: str = "runs/train"
    loss: str = "ce"  # a name registered with acn.train.register_loss
    loss_options: dict[str, Any] = field(default_factory=dict)  # read by the chosen loss
    dg_share: bool = False  # log the direct-gradient share per block at each evaluation
    dg_share_batch: int = 256  # size of the fixed test batch it is measured on
    # log the DG/FG cosine and norm ratio per block, averaged over the training steps between
    # evaluations, measured at every grad_stats_every-th step (acn.train.grad_stats)
    grad_stats: bool = False
    grad_stats_every: int = 1
    auto_cut: AutoCutSection = field(default_factory=AutoCutSection)
    # A model file or run directory whose weights start this run (fine-tuning, transfer, healing):
    # every tensor whose name and shape match the new model is copied, the rest (e.g. a head for
    # other classes) keeps its fresh init. A resumed run restores its own checkpoint instead.
    init_from: str | None = None
    init_skip: list[str] = field(default_factory=list)  # name prefixes never copied, e.g. "head."

    def validate(self) -> TrainConfig:
        """Range checks that do not need the model or the data; returns self.

        Every check is written so that NaN fails it (``not low <= x <= high``), and every float
        anywhere in the config (options dictionaries included) must be finite.
        """
        _check_finite(to_dict(self))
        counts = ("epochs", "batch_size", "eval_batch_size", "eval_every", "dg_share_batch")
        for key in (*counts, "grad_stats_every"):
            _check_range(key, getattr(self, key), 1, MAX_COUNT)
        _check_range("seed", self.seed, -(2**63), 2**63 - 1)
        o = self.optim
        _check_range("optim.lr", o.lr, 0, math.inf, low_open=True)  # too large: diverges, detected
        _check_range("optim.min_lr", o.min_lr, 0, o.lr)
        if not 0 <= o.warmup_epochs < self.epochs:  # NaN fails this too
            raise ConfigError(
                f"optim.warmup_epochs must be >= 0 and shorter than the training (epochs: "
                f"{self.epochs}), got {o.warmup_epochs}"
            )
        _check_range("optim.label_smoothing", o.label_smoothing, 0, 1, high_open=True)
        _check_range("optim.grad_clip", o.grad_clip, 0, math.inf)
        _check_range("optim.weight_decay", o.weight_decay, 0, math.inf)
        _check_range("optim.eps", o.eps, 0, 1, low_open=True)
        for i, beta in enumerate(o.betas):
            _check_range(f"optim.betas[{i}]", beta, 0, 1, high_open=True)
        if self.model.overrides.get("depth") == 0:
            raise ConfigError("model.overrides.depth must be >= 1 to train (depth 0 has no blocks)")
        if o.decay_params not in DECAY_PARAMS:
            raise ConfigError(
                f"optim.decay_params must be one of {', '.join(DECAY_PARAMS)}, "
                f"got {o.decay_params!r}"
            )
        if self.strategy not in ("ddp", "fsdp"):
            raise ConfigError(f"strategy must be ddp or fsdp, got {self.strategy!r}")
        if self.strategy == "fsdp" and self.auto_cut.enabled:
            raise ConfigError(
                "auto_cut rebuilds the model mid-run, which FSDP's sharding does not follow; "
                "use strategy: ddp with auto_cut"
            )
        if self.amp not in ("auto", "off", "bf16", "fp16"):
            raise ConfigError(f"amp must be auto, off, bf16 or fp16, got {self.amp!r}")
        self.auto_cut.validate()
        return self


MAX_COUNT = 1 << 30  # bound on epochs and batch sizes: a typo, not a plan


def _check_range(
    key: str,
    value: float,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """One-line ConfigError unless ``value`` is in the interval (NaN is never in it)."""
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ConfigError(f"{key} must be in {interval}, got {value}")


def _check_finite(values: Any, key: str = "") -> None:
    """One-line ConfigError naming the first NaN or infinite float in a plain config."""
    if isinstance(values, dict):
        for k, v in values.items():
            _check_finite(v, f"{key}.{k}" if key else str(k))
    elif isinstance(values, list):
        for i, v in enumerate(values):
            _check_finite(v, f"{key}[{i}]")
    elif isinstance(values, float) and not math.isfinite(values):
        raise ConfigError(f"{key} must be a finite number, got {values}")


# Settings a resumed run may change without leaving the path of the interrupted run: what is
# evaluated and logged, where it runs, and ``epochs`` (continuing a finished run for more epochs).
RESUME_MAY_CHANGE = frozenset(
    {
        "epochs",
        "eval_batch_size",
        "eval_every",
        "dg_share",
        "dg_share_batch",
        "grad_stats",
        "grad_stats_every",
        "device",
        "out_dir",
    }
)


def resume_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Dotted keys (``optim.lr``) whose values differ between two plain configs, except
    :data:`RESUME_MAY_CHANGE`; what makes a resume differ from the run it continues."""
    flat_a, flat_b = _flatten(before), _flatten(after)
    keys = sorted(set(flat_a) | set(flat_b))
    return [k for k in keys if k not in RESUME_MAY_CHANGE and flat_a.get(k) != flat_b.get(k)]


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


# -- reading and writing ---------------------------------------------------------------------------


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict (tuples as lists), ready for YAML or JSON."""
    return _plain(dataclasses.asdict(cfg))


def to_yaml(cfg: TrainConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None)


def from_dict(values: dict[str, Any], cls: type = TrainConfig, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from nested plain values, checking every key and type."""
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix or 'config'} must be a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown config key {prefix}{unknown[0]}; valid keys: {', '.join(fields)}"
        )
    kwargs = {k: coerce(v, hints[k], prefix + k) for k, v in values.items()}
    return cls(**kwargs)


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """``["--optim.lr=3e-4", "--epochs=5"]`` -> ``{"optim": {"lr": "3e-4"}, "epochs": "5"}``.

    Values stay text here; :func:`coerce` turns them into the field's type. A mapping value
    (``--model.overrides="{depth: 2}"``) is read as its keys, so it merges into the config's
    mapping (the same as ``--model.overrides.depth=2``) instead of replacing all of it; an empty
    one (``--model.overrides={}``) clears it.
    """
    out: dict[str, Any] = {}
    for arg in args:
        key, sep, value = arg.removeprefix("--").partition("=")
        if not arg.startswith("--") or not sep or not key:
            raise ConfigError(f"expected --key=value, got {arg!r}")
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {arg!r} conflicts with an earlier one")
        if value.lstrip().startswith("{"):
            parsed = _parse_text(value, key)
            if isinstance(parsed, dict) and parsed:  # {} stays a value: it clears the mapping
                existing = node.get(leaf)
                node[leaf] = merge(existing, parsed) if isinstance(existing, dict) else parsed
                continue
        node[leaf] = _Text(value)
    return out


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; ``extra`` wins."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(
    path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None
) -> TrainConfig:
    """Defaults <- YAML file (optional) <- overrides (``--a.b=v`` strings or a nested dict)."""
    values = read_yaml(path) if path is not None else {}
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides)
    values = merge(values, overrides or {})
    cfg = from_dict(values)
    check_model_overrides(cfg)
    return cfg.validate()


def check_model_overrides(cfg: TrainConfig) -> None:
    """Type-check ``model.overrides`` against the preset's family config (unknown key -> error)."""
    family = FAMILIES[get_preset(cfg.model.name).family]
    hints = typing.get_type_hints(family.config_class)
    names = [f.name for f in dataclasses.fields(family.config_class)]
    fixed = {"name", "connectivity"}  # set by the model section itself
    for key, value in list(cfg.model.overrides.items()):
        if key not in names or key in fixed:
            valid = ", ".join(n for n in names if n not in fixed)
            raise ConfigError(f"unknown model option model.overrides.{key}; valid: {valid}")
        cfg.model.overrides[key] = coerce(value, hints[key], f"model.overrides.{key}")


# -- type coercion ---------------------------------------------------------------------------------


class _Text(str):
    """A value typed on the command line: still text, to be parsed by the field's type."""


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def coerce(value: Any, hint: Any, key: str) -> Any:
    """``value`` converted to type ``hint`` (dataclass, scalar, Optional/Union, list, tuple, dict)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return _parse_text(value, key) if isinstance(value, _Text) else value
    if dataclasses.is_dataclass(hint):
        return from_dict(value, hint, key + ".")
    if origin in (Union, types.UnionType):
        if isinstance(value, _Text) and value.strip().lower() in ("none", "null", "~"):
            value = None
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, key)
            except ConfigError:
                continue
        raise _bad(key, value, hint)
    if origin in (list, tuple, dict) and isinstance(value, _Text):
        value = _parse_text(value, key)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise _bad(key, value, hint)
        return [coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _bad(key, value, hint)
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        if len(items) != len(value):
            raise ConfigError(f"{key} needs {len(items)} values, got {len(value)}")
        return tuple(coerce(v, t, f"{key}[{i}]") for i, (v, t) in enumerate(zip(value, items)))
    if origin is dict:
        if not isinstance(value, dict):
            raise _bad(key, value, hint)
        return {str(k): coerce(v, args[1] if args else Any, f"{key}.{k}") for k, v in value.items()}
    return _scalar(value, hint, key)


def _scalar(value: Any, hint: type, key: str) -> Any:
    # Text is accepted for numbers and booleans: YAML reads "3e-4" (no dot) as a string.
    text = value.strip() if isinstance(value, str) else None
    if hint is bool:
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if text is not None:
            try:
                return int(text)
            except ValueError:
                pass
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if text is not None:
            try:
                return float(text)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return str(value)
    else:
        return value
    raise _bad(key, value, hint)


_EXPONENT_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _parse_text(value: str, key: str) -> Any:
    """A command-line value as YAML would read it, except that 3e-4 is a float (YAML 1.1 says str)."""
    if _EXPONENT_FLOAT.match(value.strip()):
        return float(value)
    if len(value) > MAX_CONFIG_BYTES:
        raise ConfigError(f"the value of {key} is longer than a config file may be")
    return parse_yaml(value, f"the value of {key}")


def _bad(key: str, value: Any, hint: Any) -> ConfigError:
    name = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
    return ConfigError(f"{key} expects {name}, got {str(value)!r}")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
