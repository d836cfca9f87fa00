"""``acn reproduce autocut``: does cutting while training erase ACN's training-cost penalty?

For each setting (a model, data and recipe) three runs with the same seed, training rows and
recipe: the residual twin, the plain ACN, and the ACN with ``--auto-cut``. All three hold out
the same validation rows (``auto_cut.val_fraction`` of every class); the baselines run the
monitor with ``auto_cut.cut=false`` (scored, never cut), so the three train on identical data
and pay the same monitoring cost, and only the cut differs. Reported per seed and setting:
final test accuracy, counted training FLOPs (``summary.json: total_train_flops``), training
wall time (training + evaluations, from the run's clock) and the final model's inference FLOPs
(``acn.cost``), and the ratios ACN+auto-cut / residual. The issue's goal: accuracy within 0.5
points of residual with <= 0.7x its training FLOPs and wall time and <= 0.6x its inference FLOPs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..analysis.autocut_plot import plot_auto_cut
from ..compress import cost as model_cost
from ..runs.config import TrainConfig, load_config
from ..runs.files import read_metrics
from .context import RunContext
from .suite import Claim, Experiment, Rule, Scale, interval, register

VARIANTS = ("residual", "acn", "acn_autocut")
RATIOS = ("train_flops_ratio", "train_time_ratio", "inference_flops_ratio")
GOAL = {"accuracy_delta_pt": -0.5, "train_flops_ratio": 0.7, "train_time_ratio": 0.7,
        "inference_flops_ratio": 0.6}  # fmt: skip


def _flags(values: dict[str, Any], prefix: str = "--") -> list[str]:
    return [f"{prefix}{k}={v}" for k, v in values.items()]


# The first demo's Mixer and recipe (acn demo until its 16-block redesign), on MNIST-5k:
# mixer_s8 with 7x7 patches and width 48, 25 epochs. Kept here as it was measured.
MNIST_MODEL = {"patch_size": 7, "dim": 48, "token_hidden": 32, "channel_hidden": 192}
MNIST = [
    "--model.name=mixer_s8",
    "--data.spec=mnist5k",
    "--batch_size=64",
    "--optim.lr=2e-3",
    "--optim.warmup_epochs=1",
    "--optim.decay_params=matrices",  # the recipe default when these runs were made
    "--augment.crop_padding=2",
    "--augment.cutmix_prob=0",
    "--eval_every=1",
    *_flags(MNIST_MODEL, "--model.overrides."),
    "--epochs=25",
]
# A CIFAR-10 Mixer made CPU-sized: the paper's Mixer layer (mixer_cifar_paper: per-layer tail,
# cls token) with 8x8 patches, width 64 and 8 layers, on 5 classes x 300 training images (of the
# first 4,000 images of each split; ~2,000 test images), flips, the demo's recipe otherwise.
CIFAR_DATA = "wds:{root}/cifar10-jpeg-wds"
CIFAR = [
    "--model.name=mixer_cifar_paper",
    *_flags({"depth": 8, "patch_size": 8, "dim": 64, "token_hidden": 32, "channel_hidden": 256},
            "--model.overrides."),
    "--data.options.limit=4000",
    "--data.classes=5",
    "--data.per_class=300",
    "--batch_size=64",
    "--optim.lr=2e-3",
    "--optim.warmup_epochs=1",
    "--augment.cutmix_prob=0",
    "--augment.flip=true",
    "--epochs=12",
]  # fmt: skip
SMOKE = [
    "--model.name=mixer_s8",
    "--data.spec=mnist5k",
    "--data.per_class=10",
    *_flags({"patch_size": 7, "dim": 16, "token_hidden": 8, "channel_hidden": 32, "depth": 3},
            "--model.overrides."),
    "--epochs=2",
    "--optim.warmup_epochs=0",
    "--augment.cutmix_prob=0",
    "--eval_batch_size=1000",
]  # fmt: skip


def variant_config(settings: list[str], variant: str, seed: int, data_root: Path) -> TrainConfig:
    """One of the three runs of a setting (see the module docstring)."""
    wiring = "residual" if variant == "residual" else "acn"
    cut = "true" if variant == "acn_autocut" else "false"
    overrides = [s.replace("{root}", str(data_root)) for s in settings]
    if not any(s.startswith("--data.spec=") for s in overrides):
        overrides.append("--data.spec=" + CIFAR_DATA.format(root=data_root))
    return load_config(
        None,
        [
            *overrides,
            f"--model.connectivity={wiring}",
            "--auto_cut.enabled=true",
            f"--auto_cut.cut={cut}",
            f"--seed={seed}",
        ],
    )


def run_summary(ctx: RunContext, run_dir: Path) -> dict[str, Any]:
    """The raw numbers of one finished run."""
    s = ctx.summary(run_dir)
    model = ctx.load(run_dir)
    flops = model_cost(model)["flops"]
    cutoff = s["cutoff_depth"]
    return {
        "accuracy": s["accuracy"],
        "train_flops": s["total_train_flops"],
        "train_time_s": s["train_time_s"],
        "inference_flops": flops,
        "depth": s["depth"],
        "start_depth": s["auto_cut"]["start_depth"],
        "cuts": s["auto_cut"]["cuts"],
        "test_cutoff_depth": cutoff,  # post-hoc cutoff on the test set (acn compress would cut here)
        "cutoff_inference_flops": model_cost(model.truncate(cutoff))["flops"],
    }


def compare(runs: dict[str, dict[str, Any]]) -> dict[str, float]:
    """ACN+auto-cut against residual (and the plain ACN against residual, for context)."""
    res, acn, cut = runs["residual"], runs["acn"], runs["acn_autocut"]
    return {
        "accuracy_delta_pt": cut["accuracy"] - res["accuracy"],
        "train_flops_ratio": cut["train_flops"] / res["train_flops"],
        "train_time_ratio": cut["train_time_s"] / res["train_time_s"],
        "inference_flops_ratio": cut["inference_flops"] / res["inference_flops"],
        "acn_accuracy_delta_pt": acn["accuracy"] - res["accuracy"],
        "acn_train_time_ratio": acn["train_time_s"] / res["train_time_s"],
        "autocut_vs_acn_accuracy_pt": cut["accuracy"] - acn["accuracy"],
    }


def run_seed(ctx: RunContext, scale: Scale, seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {"settings": {}}
    for name in scale.params["settings"]:
        runs = {}
        for variant in VARIANTS:
            cfg = variant_config(SETTINGS[name], variant, seed, ctx.data_root)
            run_dir = ctx.train(f"{name}-{variant}", cfg)
            if run_dir is not None:  # None: a dry run, which only plans
                runs[variant] = {**run_summary(ctx, run_dir), "run_dir": str(run_dir)}
        if ctx.dry_run:
            continue
        out["settings"][name] = {"runs": runs, **compare(runs)}
    if ctx.dry_run:
        return {}
    deltas = [s["accuracy_delta_pt"] for s in out["settings"].values()]
    out["accuracy_delta_pt"] = sum(deltas) / len(deltas)
    return out


def settings_mean(key: str) -> Callable[[dict[str, Any]], float]:
    """A seed's ``key`` averaged over its settings (the cost parts of the rule)."""

    def value(seed_result: dict[str, Any]) -> float:
        rows = seed_result["settings"].values()
        return sum(r[key] for r in rows) / len(rows)

    return value


def summarize(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Per setting: the mean (and 95% interval) over seeds of every ratio and delta, and whether
    the mean meets the issue's goal."""
    settings: dict[str, Any] = {}
    names = per_seed[0]["settings"] if per_seed else {}
    for name in names:
        rows = [r["settings"][name] for r in per_seed]
        entry: dict[str, Any] = {}
        for key in (*RATIOS, "accuracy_delta_pt", "acn_accuracy_delta_pt",
                    "autocut_vs_acn_accuracy_pt", "acn_train_time_ratio"):  # fmt: skip
            entry[key] = sum(r[key] for r in rows) / len(rows)
            entry[f"{key}_interval"] = interval([r[key] for r in rows]).as_dict()
        entry["final_depth"] = [r["runs"]["acn_autocut"]["depth"] for r in rows]
        entry["meets_goal"] = {
            key: (entry[key] >= bound if key == "accuracy_delta_pt" else entry[key] <= bound)
            for key, bound in GOAL.items()
        }
        settings[name] = entry
    return {"settings": settings, "goal": GOAL}


def readme_table(result: dict[str, Any]) -> str:
    """The README's table of ``docs/results/autocut.json``: per setting, means over seeds
    (generated, never typed: a test compares the README with this)."""
    per_seed, settings = result["per_seed"], result["summary_numbers"]["settings"]
    goal = result["summary_numbers"]["goal"]
    lines = [
        "| setting | test acc. residual / ACN / ACN+cut (%) | acc. delta (pt) | train FLOPs "
        "| wall time | inference FLOPs | final depth |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in settings.items():
        acc = [
            sum(r["settings"][name]["runs"][v]["accuracy"] for r in per_seed) / len(per_seed)
            for v in VARIANTS
        ]
        start = per_seed[0]["settings"][name]["runs"]["acn_autocut"]["start_depth"]
        lines.append(
            f"| {name} | {' / '.join(f'{a:.2f}' for a in acc)} | {s['accuracy_delta_pt']:+.2f} "
            f"| {s['train_flops_ratio']:.2f}x | ({s['train_time_ratio']:.2f}x) "
            f"| {s['inference_flops_ratio']:.2f}x "
            f"| {', '.join(map(str, s['final_depth']))} of {start} |"
        )
    lines.append(
        f"| goal | | >= {goal['accuracy_delta_pt']:+.1f} | <= {goal['train_flops_ratio']}x "
        f"| <= {goal['train_time_ratio']}x | <= {goal['inference_flops_ratio']}x | |"
    )
    return "\n".join(lines)


def plot(per_seed: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """One accuracy-vs-depth-over-training picture per setting (first seed's auto-cut run)."""
    paths = []
    if not per_seed:
        return paths
    first = per_seed[0]
    for name, entry in first["settings"].items():
        run = Path(entry["runs"]["acn_autocut"]["run_dir"])
        path = Path(out_dir) / f"autocut_{name}_seed{first['seed']}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        acc = entry["runs"]["acn_autocut"]["accuracy"]
        title = (
            f"{name}: ACN + auto-cut, seed {first['seed']} (test acc {acc:.2f}%, "
            f"residual {entry['runs']['residual']['accuracy']:.2f}%)"
        )
        plot_auto_cut(read_metrics(run), path, title)
        paths.append(path)
    return paths


# The CIFAR setting with twice the validation split (60 instead of 30 images per class): added
# after the first results, because 150 validation images left the cutoff interval too wide to cut
# in 2 of 3 seeds; all three runs hold out the same rows, so it is its own comparison.
CIFAR_VAL20 = [*CIFAR, "--auto_cut.val_fraction=0.2"]
SETTINGS = {"mnist": MNIST, "cifar": CIFAR, "cifar_val20": CIFAR_VAL20, "smoke": SMOKE}


EXPERIMENT = register(
    Experiment(
        name="autocut",
        title="Auto-cut while training (issue 10): ACN + auto-cut vs residual",
        claim=Claim(
            text="ACN with --auto-cut reaches the residual model's accuracy (within 0.5 points) "
            "with <= 0.7x its training FLOPs and <= 0.6x its inference FLOPs (wall time is "
            "reported beside, not judged: on a shared machine it measures the load)",
            paper="not a paper claim: the paper lists ACN's ~2x training cost as a limitation "
            "(AC-ViT 700 vs 300 epochs); this is acn's own goal (issue 10)",
        ),
        rule=Rule(
            quantity="accuracy_delta_pt",
            direction="greater",
            threshold=GOAL["accuracy_delta_pt"],
            describe="seed-paired ACN+auto-cut minus residual test accuracy (points, mean over "
            "settings) against -0.5, and (also) the ACN+auto-cut / residual training-FLOPs and "
            "inference-FLOPs ratios (means over settings) against 0.7 and 0.6; per-setting "
            "ratios are in summary_numbers.settings with meets_goal per ratio",
            also=(
                Rule(
                    quantity="train_flops_ratio",
                    direction="less",
                    threshold=GOAL["train_flops_ratio"],
                    describe="ACN+auto-cut / residual training FLOPs, mean over settings",
                    value=settings_mean("train_flops_ratio"),
                ),
                Rule(
                    quantity="inference_flops_ratio",
                    direction="less",
                    threshold=GOAL["inference_flops_ratio"],
                    describe="ACN+auto-cut / residual inference FLOPs, mean over settings",
                    value=settings_mean("inference_flops_ratio"),
                ),
            ),
        ),
        scales={
            "smoke": Scale(
                params={"settings": ["smoke"]},
                changes="tiny 3-block Mixer, 10 MNIST images per class, 2 epochs",
            ),
            "cpu": Scale(
                params={"settings": ["mnist", "cifar", "cifar_val20"]},
                changes="the demo Mixer (8 blocks, width 48) on MNIST-5k for 25 epochs, and an "
                "8-block width-64 Mixer with 8x8 patches on 5 CIFAR-10 classes x 300 images for "
                "12 epochs (and the same with a 20% validation split); the issue names no paper "
                "setting",
                data_needed=["cifar10-jpeg-wds"],
            ),
        },
        run_seed=run_seed,
        summarize=summarize,
        plot=plot,
    )
)
