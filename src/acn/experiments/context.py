"""What an experiment's ``run_seed`` gets: :class:`RunContext`, resumable training runs.

``ctx.train(key, cfg)`` trains ``cfg`` and returns its run directory. With a ``cache`` (the runner
sets ``RUNS/by-config``) the directory is named by a digest of the config, so experiments that
train the very same config (same model, data, recipe, seed) share one run; ``ctx.out / key`` is
then a symlink to it. Without a cache the run goes to ``ctx.out / key``. In either case:

- if the directory holds a finished run (``summary.json``) with the same config, it is returned
  as is (never retrained); with another config it is a one-line ConfigError;
- if it holds a checkpoint, training resumes from it (``acn.train`` retraces the uninterrupted
  run exactly); a run that died before its first checkpoint starts over;
- under ``dry_run`` nothing is trained: the model is built, the data path checked (a synthetic
  batch of the model's input shape stands in when the data is absent), one optimizer step is run
  on a small batch, a :class:`PlanEntry` is recorded, and None is returned.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..compress.flops import depth_flops
from ..errors import CheckpointError, ConfigError, DataError
from ..models.base import StackModel
from ..models.registry import create_model
from ..runs.config import CONFIG_FILE, TrainConfig, load_run_config, to_dict
from ..runs.files import METRICS_FILE, SUMMARY_FILE, read_metrics
from ..runs.inputs import TrainData, load_train_data, model_values
from ..serialization import load
from ..train.checkpoint import has_checkpoint
from ..train.distributed import resolve_device
from ..train.loop import train
from ..train.losses import get_loss
from ..train.optim import build_optimizer

DRY_RUN_BATCH = 4  # rows of the one optimizer step a dry run takes per model
# Training-split sizes of datasets a paper-scale plan may name but the machine may lack, used only
# to estimate FLOPs when the data is absent (the standard train splits).
KNOWN_TRAIN_SIZES = {"imagenet": 1_281_167, "cifar100": 50_000, "cifar10": 50_000, "qnli": 104_743,
                     "qqp": 363_846, "sst2": 67_349, "agnews": 120_000}  # fmt: skip


@dataclass
class PlanEntry:
    """One training run as a dry run sees it (FLOPs: forward x 3 for forward + backward)."""

    key: str
    model: str
    connectivity: str
    params: int
    data: str
    data_found: bool
    epochs: int
    train_samples: int | None
    flops_per_sample: int  # one forward pass
    step_loss: float  # the loss of the dry run's one optimizer step

    @property
    def train_flops(self) -> float | None:
        if self.train_samples is None:
            return None
        return 3.0 * self.flops_per_sample * self.train_samples * self.epochs


@dataclass
class RunContext:
    """Per experiment and seed: where runs go, which scale, device and data, and training."""

    out: Path  # work directory of this experiment and seed (run dirs are out/KEY)
    scale: str
    seed: int = 0
    device: str = "auto"
    data_root: Path = Path("../shared/data")
    dry_run: bool = False
    cache: Path | None = None  # shared run directories named by config digest (see module doc)
    log_fn: Callable[[str], None] | None = print
    plan: list[PlanEntry] = field(default_factory=list)

    def log(self, msg: str) -> None:
        if self.log_fn is not None:
            self.log_fn(msg)

    def data(self, name: str) -> Path:
        """Path of dataset ``name`` under the data root (e.g. ``ctx.data("sst2")``)."""
        return Path(self.data_root) / name

    def train(self, key: str, cfg: TrainConfig) -> Path | None:
        """Train (or reuse, or resume) ``cfg`` as run ``key``; see the module docstring."""
        device = cfg.device if self.device == "auto" else self.device
        cfg = dataclasses.replace(cfg, device=device)
        link = Path(self.out) / key
        run_dir = link if self.cache is None else Path(self.cache) / config_digest(cfg)
        cfg = dataclasses.replace(cfg, out_dir=str(run_dir))
        if self.dry_run:
            self.plan.append(dry_step(key, cfg))
            return None
        if run_dir != link:
            link_run(link, run_dir)
        if (run_dir / CONFIG_FILE).is_file():
            if to_dict(load_run_config(run_dir)) != to_dict(cfg):
                raise ConfigError(
                    f"{run_dir} holds a run with another config; remove it or choose another --runs"
                )
            if (run_dir / SUMMARY_FILE).is_file():
                self.log(f"[{key}] finished earlier: reusing {run_dir}")
                return run_dir
        resume = has_checkpoint(run_dir)
        if not resume and (run_dir / METRICS_FILE).exists():
            (run_dir / METRICS_FILE).unlink()  # died before its first checkpoint: start over
        self.log(f"[{key}] {'resuming' if resume else 'training'} {cfg.epochs} epoch(s)")
        train(cfg, resume=resume, progress=False, log=None)  # holds RUN/.lock while it trains
        return run_dir

    def load(self, run_dir: Path) -> StackModel:
        """The trained model of a run directory, in eval mode on this context's device."""
        return load(run_dir, resolve_device(self.device)).eval()

    @staticmethod
    def summary(run_dir: Path) -> dict[str, Any]:
        """The run's ``summary.json``."""
        path = Path(run_dir) / SUMMARY_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise CheckpointError(f"cannot read {path}: {e}") from None

    @staticmethod
    def metrics(run_dir: Path) -> list[dict[str, Any]]:
        """The run's ``metrics.jsonl`` records (one per evaluation)."""
        return read_metrics(run_dir)


def config_digest(cfg: TrainConfig) -> str:
    """A name for ``cfg``'s run: connectivity plus a hash of everything but ``out_dir``."""
    values = to_dict(dataclasses.replace(cfg, out_dir=""))
    text = json.dumps(values, sort_keys=True, default=str)
    return f"{cfg.model.connectivity}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def link_run(link: Path, run_dir: Path) -> None:
    """Point ``link`` at ``run_dir`` (a relative symlink; an existing link is replaced)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        raise ConfigError(f"{link} exists and is not a link to a run; remove it")
    link.symlink_to(os.path.relpath(run_dir, link.parent), target_is_directory=True)


def dry_step(key: str, cfg: TrainConfig) -> PlanEntry:
    """Build ``cfg``'s model, check its data, take one optimizer step; describe the run."""
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    try:
        data: TrainData | None = load_train_data(cfg)
    except DataError:
        data = None  # the plan names the missing path; a synthetic batch stands in
    values = model_values(cfg, data.info) if data is not None else dict(cfg.model.overrides)
    model = create_model(cfg.model.name, cfg.model.connectivity, **values).to(device)
    if data is not None:
        x, y = data.splits.train.x[:DRY_RUN_BATCH], data.splits.train.y[:DRY_RUN_BATCH]
        gen = torch.Generator().manual_seed(cfg.seed)
        x, y = data.prepare(x.to(device), y.to(device), True, gen, model.config.num_classes)
    else:
        x, y = synthetic_batch(model, DRY_RUN_BATCH)
        x, y = x.to(device), y.to(device)
    model.train()
    optimizer = build_optimizer(model, cfg.optim)
    loss, _ = get_loss(cfg.loss)(model, x, y, cfg)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    model.eval()
    with torch.no_grad():
        flops = depth_flops(model, x=x[:1]).full.total
    return PlanEntry(
        key=key,
        model=cfg.model.name,
        connectivity=cfg.model.connectivity,
        params=model.num_params(),
        data=cfg.data.spec,
        data_found=data is not None,
        epochs=cfg.epochs,
        train_samples=len(data.splits.train) if data is not None else known_size(cfg.data.spec),
        flops_per_sample=int(flops),
        step_loss=float(loss.detach()),
    )


def synthetic_batch(model: StackModel, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random inputs of the model's shape and labels it accepts (token ids for an MLM head)."""
    gen = torch.Generator().manual_seed(0)
    x = model.example_input(n, generator=gen)
    if getattr(model.config, "head", None) == "mlm":
        y = torch.full_like(x, -100)
        y[:, 1] = x[:, 1]  # one scored token per row
        return x, y
    return x, torch.randint(0, model.config.num_classes, (n,), generator=gen)


def known_size(spec: str) -> int | None:
    """Training-split size of a well-known dataset named in ``spec`` (None if unknown)."""
    name = Path(spec.split(":", 1)[-1]).name.lower().replace("-", "")
    for key, size in KNOWN_TRAIN_SIZES.items():  # cifar100 before cifar10: longest match first
        if name.startswith(key):
            return size
    return None
