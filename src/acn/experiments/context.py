"""What an experiment's ``run_seed`` gets: :class:`RunContext`, resumable training runs.

``ctx.train(key, cfg)`` trains ``cfg`` and returns its :class:`~acn.runs.Run`. With a ``cache``
(the runner sets ``RUNS/by-config``) the directory is named by a digest of the config's
*identity*, so experiments that train the very same config (same model, data, recipe, seed)
share one run; ``ctx.out / key`` is then a symlink to it. Without a cache the run goes to
``ctx.out / key``. In either case:

- if the directory holds a finished run with the same config, it is returned as is (never
  retrained); a run of another config is never touched: a one-line ConfigError says so;
- if it holds a checkpoint, training resumes from it (``acn.train`` retraces the uninterrupted
  run exactly); a run that died before its first checkpoint starts over;
- under ``dry_run`` nothing is trained: the model is built, the data path checked (a synthetic
  batch of the model's input shape stands in when the data is absent), one optimizer step is run
  on a small batch, a :class:`PlanEntry` is recorded, and None is returned.

A config's identity is the config without ``out_dir``, with the runs root, the data root and
the data cache written as ``$RUNS``, ``$ACN_DATA`` and ``$ACN_CACHE``: the same runs directory
spelled ``rr9`` or ``/abs/path/rr9``, or a moved copy of it, holds the same runs (a stored
absolute path that sits where the placeholder path does counts as the same place).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..compress.flops import depth_flops
from ..data.cache import cache_dir
from ..errors import ConfigError, DataError
from ..models.base import StackModel
from ..models.registry import create_model
from ..runs.config import TrainConfig, to_dict
from ..runs.inputs import TrainData, load_train_data, model_values
from ..runs.run import Run
from ..train.checkpoint import has_checkpoint
from ..train.distributed import DistContext, TrainingModel, resolve_device
from ..train.loop import train
from ..train.losses import get_loss
from ..train.optim import build_optimizer
from .recipes import Recipe, Sources, train_config

CACHE_DIR = "by-config"  # RUNS/by-config/DIGEST: runs named by what they train
DRY_RUN_BATCH = 4  # rows of the one optimizer step a dry run takes per model
# a language model's row is a whole context of next-token examples (GPT-2 small: 1,024, and
# logits of 50,257 per token, 0.2 GB a row in float32): one row is enough to check it. A masked-LM
# batch scores only 15% of its ordinary tokens (the head runs only there), so a few short rows may
# score none and check nothing: masked-LM data takes rows for DRY_RUN_MASKED_TOKENS tokens.
DRY_RUN_SEQUENCES = 1
DRY_RUN_MASKED_TOKENS = 512  # about 60 scored
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

    out: Path  # work directory of this experiment and seed (run dirs or links are out/KEY)
    scale: str
    sources: Sources
    seed: int = 0
    device: str = "auto"
    dry_run: bool = False
    cache: Path | None = None  # shared run directories named by config digest (see module doc)
    log_fn: Callable[[str], None] | None = print
    plan: list[PlanEntry] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # key -> digest of every run read

    def log(self, msg: str) -> None:
        if self.log_fn is not None:
            self.log_fn(msg)

    @property
    def roots(self) -> dict[str, Path]:
        """The places a config may name, by placeholder (see :func:`identity`)."""
        runs = Path(self.cache).parent if self.cache is not None else Path(self.out)
        roots = {"$RUNS": runs, "$ACN_CACHE": cache_dir()}
        if self.sources.data_root is not None:
            roots["$ACN_DATA"] = Path(self.sources.data_root)
        return roots

    def config(self, recipe: Recipe, connectivity: str, changes: Recipe | None = None):
        """``recipe`` (+ ``changes``) for ``connectivity`` at this seed, data resolved."""
        return train_config(recipe, connectivity, self.seed, self.sources, changes)

    def train(self, key: str, cfg: TrainConfig) -> Run | None:
        """Train (or reuse, or resume) ``cfg`` as run ``key``; see the module docstring."""
        device = cfg.device if self.device == "auto" else self.device
        cfg = dataclasses.replace(cfg, device=device)
        digest = config_digest(cfg, self.roots)
        link = Path(self.out) / key
        run_dir = link if self.cache is None else Path(self.cache) / digest
        cfg = dataclasses.replace(cfg, out_dir=str(run_dir))
        if self.dry_run:
            self.plan.append(dry_step(key, cfg))
            return None
        self.digests[key] = digest
        run = Run(run_dir)
        if run.exists:
            differ = config_differences(run.config, cfg, self.roots)
            if differ:
                raise ConfigError(
                    f"{run_dir} holds a run of another config ({', '.join(differ[:3])} differ); "
                    "it is left as it is: choose another --runs"
                )
            if run.finished:
                if run_dir != link:
                    link_run(link, run_dir)
                self.log(f"[{key}] finished earlier: reusing {run_dir}")
                return run
        resume = has_checkpoint(run_dir)
        if not resume and run.metrics_path.exists():
            run.metrics_path.unlink()  # died before its first checkpoint: start over
        run_dir.mkdir(parents=True, exist_ok=True)
        if run_dir != link:
            link_run(link, run_dir)
        self.log(f"[{key}] {'resuming' if resume else 'training'} {cfg.epochs} epoch(s)")
        # a resumed copy may spell its paths differently; its identity was checked above
        train(cfg, resume=resume, allow_changed_config=resume, progress=False, log=None)
        return run

    def model(self, run: Run) -> StackModel:
        """The trained model of a run, in eval mode on this context's device."""
        return run.model(resolve_device(self.device)).eval()


def identity(cfg: TrainConfig, roots: dict[str, Path]) -> dict[str, Any]:
    """What makes two configs train the same run (see the module docstring)."""
    values = to_dict(dataclasses.replace(cfg, out_dir=""))
    spelled = sorted(
        ((name, str(Path(path).expanduser().resolve())) for name, path in roots.items()),
        key=lambda item: -len(item[1]),  # the longest root first (a cache inside the runs)
    )
    return _placed(values, spelled)


def _placed(value: Any, roots: list[tuple[str, str]]) -> Any:
    if isinstance(value, dict):
        return {k: _placed(v, roots) for k, v in value.items()}
    if isinstance(value, list):
        return [_placed(v, roots) for v in value]
    if not isinstance(value, str):
        return value
    for name, root in roots:
        value = re.sub(re.escape(root) + r"(?=/|$)", lambda _m, n=name: n, value)
    return value


def config_digest(cfg: TrainConfig, roots: dict[str, Path] | None = None) -> str:
    """A name for ``cfg``'s run: connectivity plus a hash of its identity."""
    text = json.dumps(identity(cfg, roots or {}), sort_keys=True, default=str)
    return f"{cfg.model.connectivity}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def config_differences(stored: TrainConfig, wanted: TrainConfig, roots: dict[str, Path]) -> list:
    """Dotted keys whose identities differ; a stored absolute path that sits where the wanted
    placeholder path does (a copy moved with its data) is the same place."""
    return _differences(identity(stored, roots), identity(wanted, roots))


def _differences(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differences(va, vb, f"{prefix}{key}.")
        elif va != vb and not _moved(va, vb):
            out.append(prefix + key)
    return out


def _moved(stored: Any, wanted: Any) -> bool:
    if not isinstance(stored, str) or not isinstance(wanted, str):
        return False
    m = re.fullmatch(r"(.*?)\$(?:RUNS|ACN_DATA|ACN_CACHE)(/.*)?", wanted)
    if m is None:
        return False
    prefix, rest = m.group(1), m.group(2) or ""
    return (
        stored.startswith(prefix) and stored.endswith(rest) and os.path.isabs(stored[len(prefix) :])
    )


def link_run(link: Path, run_dir: Path) -> None:
    """Point ``link`` at ``run_dir`` (a relative symlink; an existing link is replaced)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        raise ConfigError(
            f"{link} is not a link to a run and is left as it is: move it away or choose "
            "another --runs"
        )
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
    rows = DRY_RUN_SEQUENCES if model.predicts_per_token else DRY_RUN_BATCH
    if data is not None and data.kind == "mlm":
        rows = max(rows, -(-DRY_RUN_MASKED_TOKENS // int(data.splits.train.x.shape[1])))
    if data is not None:
        x, y = data.splits.train.x[:rows], data.splits.train.y[:rows]
        gen = torch.Generator().manual_seed(cfg.seed)
        x, y = data.prepare(x.to(device), y.to(device), True, gen, model.config.num_classes)
    else:
        x, y = synthetic_batch(model, rows)
        x, y = x.to(device), y.to(device)
    model.train()
    optimizer = build_optimizer(model, cfg.optim)
    # the loss sees the model as the trainer hands it over (a masked-LM loss calls through it)
    loss, _ = get_loss(cfg.loss)(TrainingModel(model, DistContext(), device), x, y, cfg)
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
        train_samples=len(data.splits.train) if data is not None else planned_size(cfg),
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
    shape = x.shape if model.predicts_per_token else (n,)  # a causal LM: a label every position
    return x, torch.randint(0, model.config.num_classes, shape, generator=gen)


def planned_size(cfg: TrainConfig) -> int | None:
    """Training samples of a run whose data is absent: a language model's training windows
    (its recipe fixes them), else the standard train split of a well-known dataset."""
    windows = (cfg.data.options or {}).get("train_windows")
    return int(windows) if windows is not None else known_size(cfg.data.spec)


def known_size(spec: str) -> int | None:
    """Training-split size of a well-known dataset named in ``spec`` (None if unknown)."""
    name = Path(spec.split(":", 1)[-1]).name.lower().replace("-", "")
    for key, size in KNOWN_TRAIN_SIZES.items():  # cifar100 before cifar10: longest match first
        if name.startswith(key):
            return size
    return None
