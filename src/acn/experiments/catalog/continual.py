"""Experiment ``continual`` (paper §5.8, Table 3): task-incremental learning with naive
fine-tuning and Synaptic Intelligence, ACN vs residual Mixers of depth 5, 10 and 15.

Head type: multi-head task-incremental. The model has one output group of ``c`` logits per task
(one ``T*c``-way Linear whose rows are the task heads); a sample of task t is trained and scored
on its task's group only, the task identity being known at test time (as the paper's
task-incremental setting). Tasks are learned one after another (AdamW at a constant lr, a fresh
optimizer per task, no label smoothing); after each task every task seen so far is scored.

- Average accuracy: mean over the T tasks of the accuracy after the last task.
- Average forgetting: mean over the first T-1 tasks of (accuracy right after learning the task
  minus accuracy after the last task); the last task cannot be forgotten yet.

SI (:mod:`acn.train.si`, strength 1 as the paper's lambda, damping 1e-3) covers every parameter.
These sequences are not single ``acn.train`` runs, so each one is saved as a small JSON in the
experiment's directory and skipped when the experiment is run again.

``continual`` runs every cell of Table 3 (both methods, three depths); ``continual-si15`` only
the paper's headline cell (SI at depth 15, "up to 18% less forgetting") on the same data and
model, with more seeds: one cell's seed-paired difference, powered on its own.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ...compress import flops_per_depth
from ...data import Batches, per_class, task_splits
from ...data.dataset import ArrayDataset
from ...errors import DataError
from ...models.registry import create_model
from ...runs.config import TrainConfig, load_config
from ...runs.inputs import TrainData, load_train_data, model_values
from ...train.distributed import resolve_device
from ...train.loop import augment_seed
from ...train.optim import build_optimizer
from ...train.si import SynapticIntelligence
from ...utils import write_json
from ..context import DRY_RUN_BATCH, PlanEntry, RunContext, known_size
from ..figures import plot_curves
from ..recipes import CIFAR10, CIFAR100, Recipe
from ..results import read_json
from ..suite import Claim, Experiment, Rule, Scale, SeedResult

ARCHS = ("acn", "residual")
METHODS = ("naive", "si")


def methods_of(p: dict[str, Any]) -> tuple[str, ...]:
    """The methods a scale runs (default: both)."""
    return tuple(p.get("methods", METHODS))


def average_accuracy(acc: list[list[float]]) -> float:
    """Mean accuracy over all tasks after the last one (``acc[t][j]``: after task t, on task j)."""
    return sum(acc[-1]) / len(acc[-1])


def average_forgetting(acc: list[list[float]]) -> float:
    """Mean over tasks j < T-1 of acc[j][j] - acc[T-1][j] (points)."""
    last = len(acc) - 1
    if last == 0:
        return 0.0
    return sum(acc[j][j] - acc[last][j] for j in range(last)) / last


@functools.lru_cache(maxsize=2)
def _load(spec: str, per_class_train: int | None, crop_padding: int) -> TrainData:
    """The whole dataset, once per process (the per-class subset takes the first k per class,
    so it does not depend on the seed)."""
    values = {
        "data": {"spec": spec, "per_class": per_class_train, "per_class_mode": "first"},
        "augment": {"cutmix_prob": 0.0, "crop_padding": crop_padding},
    }
    return load_train_data(load_config(None, values))


def load(cfg: TrainConfig) -> TrainData:
    """The data of a sequence's config (see :func:`_load`)."""
    return _load(cfg.data.spec, cfg.data.per_class, cfg.augment.crop_padding)


def load_tasks(
    data: TrainData, n_tasks: int, per_task: int, test_per_class: int | None
) -> list[tuple[ArrayDataset, ArrayDataset]]:
    """(train, test) of every task: classes [t*c, (t+1)*c) relabelled 0..c-1."""
    test = data.splits.test
    if test_per_class is not None:
        test = per_class(test, test_per_class, mode="first")
    trains = task_splits(data.splits.train, n_tasks, per_task)
    tests = task_splits(test, n_tasks, per_task)
    return list(zip(trains, tests))


def task_accuracy(model, data: TrainData, test: ArrayDataset, cols: slice, device) -> float:
    """Accuracy (%) of the task's logit group on its test split."""
    correct = total = 0
    model.eval()
    with torch.no_grad():
        for x, y in Batches(test, 500, shuffle=False):
            x, y = data.prepare(x.to(device), y.to(device), False, None, cols.stop - cols.start)
            correct += int((model(x)[:, cols].argmax(-1) == y).sum())
            total += len(y)
    return 100.0 * correct / max(total, 1)


def train_sequence(
    model, data: TrainData, tasks, p: dict[str, Any], method: str, seed: int, device
) -> list[list[float]]:
    """Learn the tasks in order; returns acc[t][j] (after task t, on task j <= t)."""
    c = int(p["classes_per_task"])
    si = SynapticIntelligence(model, strength=p["si_strength"]) if method == "si" else None
    optim = load_config(None, {"optim": {"lr": p["lr"], "weight_decay": 0.01}}).optim
    acc: list[list[float]] = []
    for t, (train, _) in enumerate(tasks):
        cols = slice(t * c, (t + 1) * c)
        opt = build_optimizer(model, optim)  # constant lr, fresh state per task
        batches = Batches(train, int(p["batch_size"]), shuffle=True, seed=seed * 1000 + t)
        for epoch in range(int(p["epochs_per_task"])):
            model.train()
            batches.set_epoch(epoch)
            gen = torch.Generator().manual_seed(augment_seed(seed * 1000 + t, epoch))
            for x, y in batches:
                x, y = data.prepare(x.to(device), y.to(device), True, gen, c)
                loss = F.cross_entropy(model(x)[:, cols], y)
                if si is not None:
                    loss = loss + si.penalty()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if si is not None:
                    si.before_step()
                opt.step()
                if si is not None:
                    si.after_step()
        if si is not None:
            si.end_task()
        acc.append(
            [task_accuracy(model, data, tasks[j][1], slice(j * c, (j + 1) * c), device)
             for j in range(t + 1)]
        )  # fmt: skip
    return acc


def build(ctx: RunContext, p: dict[str, Any], arch: str, depth: int, info: dict[str, Any]):
    """The model of one sequence: the recipe's Mixer with T*c outputs, seeded init."""
    cfg = ctx.config(p["train"], arch, {"model": {"overrides": {"depth": depth}}})
    overrides = model_values(cfg, info)
    overrides["num_classes"] = int(p["tasks"]) * int(p["classes_per_task"])
    torch.manual_seed(ctx.seed)
    return create_model(cfg.model.name, arch, **overrides)


def dry_step(ctx: RunContext, p: dict[str, Any], cfg: TrainConfig) -> None:
    """--dry-run: build every model, take one SI optimizer step on a real (or, when the data is
    absent, synthetic) batch, and add each sequence to the plan."""
    spec = cfg.data.spec
    try:
        data = load(cfg)
    except DataError:
        data = None
    info = data.info if data is not None else {"kind": "image"}
    c = int(p["classes_per_task"])
    samples = len(data.splits.train) if data is not None else known_size(spec)
    for arch in ARCHS:
        for depth in p["depths"]:
            model = build(ctx, p, arch, depth, info)
            x = model.example_input(DRY_RUN_BATCH)
            y = torch.arange(DRY_RUN_BATCH) % c
            if data is not None:
                x, y = data.splits.train.x[:DRY_RUN_BATCH], data.splits.train.y[:DRY_RUN_BATCH] % c
                x, y = data.prepare(x, y, False, None, c)
            si = SynapticIntelligence(model, p["si_strength"])
            opt = build_optimizer(model, load_config(None, {"optim": {"lr": p["lr"]}}).optim)
            loss = F.cross_entropy(model(x)[:, :c], y) + si.penalty()
            loss.backward()
            si.before_step()
            opt.step()
            si.after_step()
            flops = flops_per_depth(model.eval())[-1]
            for method in methods_of(p):
                ctx.plan.append(
                    PlanEntry(
                        key=f"{arch}-{method}-L{depth}",
                        model=cfg.model.name,
                        connectivity=arch,
                        params=model.num_params(),
                        data=spec,
                        data_found=data is not None,
                        epochs=int(p["epochs_per_task"]),  # per task: each sample seen this often
                        train_samples=samples,
                        flops_per_sample=int(flops),
                        step_loss=float(loss.detach()),
                    )
                )


def run_seed(ctx: RunContext, scale: Scale, seed: int) -> SeedResult:
    p = scale.params
    cfg = ctx.config(p["train"], "acn")
    if ctx.dry_run:
        dry_step(ctx, p, cfg)
        return {}
    device = resolve_device(ctx.device)
    data = load(cfg)
    tasks = load_tasks(data, int(p["tasks"]), int(p["classes_per_task"]), p.get("test_per_class"))
    cells: dict[str, Any] = {}
    for depth in p["depths"]:
        for arch in ARCHS:
            for method in methods_of(p):
                key = f"{arch}-{method}-L{depth}"
                path = Path(ctx.out) / f"{key}-s{seed}.json"
                if path.is_file():  # this sequence finished in an earlier, interrupted run
                    cells[key] = read_cell(path)
                    continue
                model = build(ctx, p, arch, depth, data.info).to(device)
                acc = train_sequence(model, data, tasks, p, method, seed, device)
                cells[key] = {
                    "accuracy_matrix": acc,
                    "average_accuracy": average_accuracy(acc),
                    "average_forgetting": average_forgetting(acc),
                }
                write_json(path, cells[key])
    diffs = [
        cells[f"residual-{m}-L{d}"]["average_forgetting"]
        - cells[f"acn-{m}-L{d}"]["average_forgetting"]
        for d in p["depths"]
        for m in methods_of(p)
    ]
    contrast = {"residual_minus_acn_forgetting_pt": sum(diffs) / len(diffs)}
    return {"arms": cells, "contrasts": contrast}


def read_cell(path: Path) -> dict[str, Any]:
    """A finished sequence's saved numbers (checked: a damaged file is one line, kept as it is)."""
    cell = read_json(path, "sequence result")
    if not isinstance(cell, dict) or not all(
        isinstance(cell.get(k), (int, float)) for k in ("average_accuracy", "average_forgetting")
    ):
        raise DataError(f"{path} is not a sequence result acn wrote; move it away to rerun it")
    return cell


def plot(per_seed: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Average forgetting against depth for every (architecture, method)."""
    rows = [s["arms"] for s in per_seed]
    depths = sorted({int(k.rsplit("-L", 1)[1]) for k in rows[0]})
    methods = [m for m in METHODS if any(k.split("-")[1] == m for k in rows[0])]
    curves = {f"{a} {m}": [[r[f"{a}-{m}-L{d}"]["average_forgetting"] for d in depths] for r in rows]
              for m in methods for a in ARCHS}  # fmt: skip
    path = plot_curves(curves, Path(out_dir) / "forgetting_vs_depth.png", x=depths,
                       title="Table 3: average forgetting (lower is better)",
                       xlabel="depth L", ylabel="average forgetting (points)")  # fmt: skip
    return [path]


_SETTING = {"si_strength": 1.0, "lr": 1e-3, "batch_size": 64}
_CIFAR_SMALL = {"patch_size": 8, "dim": 32, "token_hidden": 24, "channel_hidden": 128}


def mixer(name: str, overrides: dict[str, Any], spec: Any, per_class_train: int | None,
          crop_padding: int) -> Recipe:  # fmt: skip
    """The sequences' model and data (the first ``per_class_train`` images of each class)."""
    return {
        "model": {"name": name, "overrides": overrides},
        "data": {"spec": spec, "per_class": per_class_train, "per_class_mode": "first"},
        "augment": {"cutmix_prob": 0.0, "crop_padding": crop_padding},
    }


_SMOKE_MIXER = {"patch_size": 7, "dim": 16, "token_hidden": 8, "channel_hidden": 32}

EXPERIMENT = Experiment(
    name="continual",
    title="Continual learning: naive fine-tuning and SI, depths 5/10/15 (Table 3)",
    claim=Claim(
        text="ACNs forget less than residual networks in task-incremental learning, with "
        "naive fine-tuning and with Synaptic Intelligence, at every depth",
        paper="Split CIFAR-100, forgetting AC vs Res: naive 46.6/45.5/46.9 vs 52.8/54.9/54.5, "
        "SI 35.7/33.8/32 vs 42.4/44.6/50 (L = 5/10/15; 'up to 18% less')",
    ),
    rule=Rule(
        quantity="residual_minus_acn_forgetting_pt",
        direction="greater",
        threshold=0.0,
        describe="seed-paired average forgetting residual minus ACN (points), mean over the "
        "three depths and both methods; 95% t-interval over seeds",
    ),
    scales={
        "smoke": Scale(
            params={
                **_SETTING,
                "train": mixer("mixer_s8", _SMOKE_MIXER, "mnist5k", 20, 2),
                "tasks": 5,
                "classes_per_task": 2,
                "test_per_class": 20,
                "epochs_per_task": 1,
                "depths": [2, 3],
            },
            changes="split MNIST-5k (5 tasks of 2 digits, 20 per class), width-16 Mixer of "
            "depth 2 and 3, 1 epoch per task",
        ),
        "cpu": Scale(
            params={
                **_SETTING,
                "train": mixer("mixer_cifar_paper", dict(_CIFAR_SMALL), CIFAR10, 500, 4),
                "tasks": 5,
                "classes_per_task": 2,
                "test_per_class": 500,
                "epochs_per_task": 5,
                "depths": [5, 10, 15],
            },
            changes="split CIFAR-10 (5 tasks of 2 classes; the first 500 training and 500 "
            "test images per class) instead of split CIFAR-100 (20 tasks of 5); Mixer of "
            "width 32 with 8x8 patches instead of 128 with 4x4; 5 epochs per task instead of 10",
        ),
        "paper": Scale(
            params={
                **_SETTING,
                "train": mixer("mixer_cifar_paper", {}, CIFAR100, None, 4),
                "tasks": 20,
                "classes_per_task": 5,
                "test_per_class": None,
                "epochs_per_task": 10,
                "depths": [5, 10, 15],
            },
            changes="the paper's setting: split CIFAR-100, 20 tasks of 5 classes, 10 epochs "
            "per task, AdamW 1e-3, batch 64, SI lambda 1; multi-head",
        ),
    },
    run_seed=run_seed,
    plot=plot,
)

_HEADLINE = {"methods": ["si"], "depths": [15]}

OTHER_SETTINGS = (
    Experiment(
        name="continual-si15",
        title="Continual learning, the headline cell: SI at depth 15 (Table 3)",
        claim=Claim(
            text="With Synaptic Intelligence at depth 15, ACNs forget less than residual "
            "networks in task-incremental learning (the paper's 'up to 18% less forgetting')",
            paper="Split CIFAR-100, SI, L = 15: average forgetting AC-Mixer 32 +- 1.8 vs "
            "ResMixer 50 +- 2.1; average accuracy 46.2 vs 32.1",
        ),
        rule=Rule(
            quantity="residual_minus_acn_forgetting_pt",
            direction="greater",
            threshold=0.0,
            describe="seed-paired average forgetting residual minus ACN (points), SI at depth "
            "15; 95% t-interval over seeds (run with 10 seeds)",
        ),
        scales={
            "smoke": Scale(
                params={**EXPERIMENT.scales["smoke"].params, "methods": ["si"], "depths": [3]},
                changes="split MNIST-5k (5 tasks of 2 digits, 20 per class), width-16 Mixer of "
                "depth 3, SI, 1 epoch per task",
            ),
            "cpu": Scale(
                params={**EXPERIMENT.scales["cpu"].params, **_HEADLINE},
                changes="the SI, depth-15 cell of `continual`'s cpu setting: split CIFAR-10 (5 "
                "tasks of 2 classes; the first 500 training and 500 test images per class) "
                "instead of split CIFAR-100 (20 tasks of 5); Mixer of width 32 with 8x8 patches "
                "instead of 128 with 4x4; 5 epochs per task instead of 10",
            ),
            "paper": Scale(
                params={**EXPERIMENT.scales["paper"].params, **_HEADLINE},
                changes="the paper's setting, SI at depth 15 only: split CIFAR-100, 20 tasks of "
                "5 classes, 10 epochs per task, AdamW 1e-3, batch 64, SI lambda 1; multi-head",
            ),
        },
        run_seed=run_seed,
        plot=plot,
    ),
)
