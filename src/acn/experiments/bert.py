"""Experiment ``bert`` (paper §4.2, §5.5, Table 6): masked-LM pretraining of AC-BERT and a residual
BERT, then fine-tuning on SST-2 (and AG News); accuracy at every depth, the cutoff, and the
parameters and FLOPs of the cut model.

As the paper, AC-BERT pretrains for twice the residual BERT's epochs (2 vs 1). Each fine-tuning
run starts from its pretrained encoder (``init_from``: embeddings and blocks; the MLM head is
replaced by a fresh pooler + classifier) and tokenises the task with the pretraining tokenizer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..compress import flops_per_depth
from ..runs.config import load_config
from ..runs.inputs import load_train_data
from ..runs.run import Run
from ..serialization import load
from .context import RunContext
from .figures import plot_curves
from .outcomes import run_numbers
from .suite import Claim, Experiment, Rule, Scale, register

ARCHS = ("acn", "residual")


def pretrain_config(p: dict[str, Any], ctx: RunContext, seed: int, arch: str):
    """MLM pretraining: the residual model gets ``epochs``, AC-BERT ``acn_epoch_ratio`` times more."""
    pre = p["pretrain"]
    epochs = int(round(pre["epochs"] * (pre["acn_epoch_ratio"] if arch == "acn" else 1)))
    values = {
        "model": {"name": pre["model"], "connectivity": arch, "overrides": dict(p["model"])},
        "data": {
            "spec": pre["data"].format(data=str(ctx.data_root).rstrip("/")),
            "options": dict(pre["options"]),
        },  # fmt: skip
        "optim": {**pre["optim"], "warmup_epochs": pre["warmup_fraction"] * epochs},
        "epochs": epochs,
        "batch_size": pre["batch_size"],
        "eval_batch_size": 256,
        "seed": seed,
        "device": getattr(ctx, "device", "auto") or "auto",
    }
    return load_config(None, values)


def finetune_config(
    p: dict[str, Any], ctx: RunContext, seed: int, arch: str, task: str, pretrained: Path | None
):
    """Fine-tuning on ``task`` from the pretrained run (its tokenizer, its encoder weights)."""
    ft = p["finetune"]
    options = {"max_len": p["pretrain"]["options"]["max_len"], **ft["tasks"][task]}
    if pretrained is not None:
        options["tokenizer"] = load_train_data(Run(pretrained).config).info["tokenizer_path"]
    values = {
        "model": {"name": ft["model"], "connectivity": arch, "overrides": dict(p["model"])},
        "data": {"spec": f"tsv:{Path(ctx.data_root) / task}", "options": options},
        "optim": dict(ft["optim"]),
        "epochs": ft["epochs"],
        "batch_size": ft["batch_size"],
        "eval_batch_size": 256,
        "seed": seed,
        "device": getattr(ctx, "device", "auto") or "auto",
        "init_from": str(pretrained) if pretrained is not None else None,
        "init_skip": ["head."],  # the MLM head's transform is not the classifier's pooler
    }
    return load_config(None, values)


def task_numbers(run: Path) -> dict[str, Any]:
    """Accuracy at every depth and the cut model's parameters and FLOPs (per sequence)."""
    n = run_numbers(run, flops=False)
    model = load(run)
    flops = flops_per_depth(model)
    k = n["cutoff_depth"]
    n.update(
        flops_per_depth=flops,
        cut_flops_fraction=flops[k] / flops[-1],
        cut_params_fraction=n["cut_model_params"] / n["params"],
        accuracy_at_cutoff=n["accuracy_per_depth"][k],
    )
    return n


def run_seed(ctx: RunContext, scale: Scale, seed: int) -> dict[str, Any]:
    p = scale.params
    out: dict[str, Any] = {"pretrain": {}, "tasks": {}}
    for arch in ARCHS:
        pre_run = ctx.train(f"{arch}-mlm", pretrain_config(p, ctx, seed, arch))
        if pre_run is not None:
            out["pretrain"][arch] = run_numbers(pre_run, flops=False)
        for task in p["finetune"]["tasks"]:
            cfg = finetune_config(p, ctx, seed, arch, task, pre_run)
            run = ctx.train(f"{arch}-{task}", cfg)
            if run is not None:
                out["tasks"].setdefault(task, {})[arch] = task_numbers(run)
    tasks = out["tasks"]
    if any(len(tasks.get(t, {})) < len(ARCHS) for t in p["finetune"]["tasks"]):
        return {}  # dry run
    for task, by_arch in tasks.items():
        gap = by_arch["acn"]["accuracy_at_cutoff"] - by_arch["residual"]["accuracy"]
        out[f"acn_cut_minus_residual_{task}_pt"] = gap
    return out


def summarize(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Per task and model: mean accuracy, cutoff, cut-model FLOPs and parameter shares."""
    rows = [s for s in per_seed if s]
    out: dict[str, Any] = {}
    if not rows:
        return out
    keys = ("accuracy", "accuracy_at_cutoff", "cutoff_depth", "cut_flops_fraction",
            "cut_params_fraction")  # fmt: skip
    for task in rows[0]["tasks"]:
        for arch in ARCHS:
            for key in keys:
                vals = [r["tasks"][task][arch][key] for r in rows]
                out[f"{task}_{arch}_{key}"] = sum(vals) / len(vals)
    for arch in ARCHS:
        vals = [r["pretrain"][arch]["accuracy"] for r in rows]
        out[f"mlm_{arch}_masked_token_accuracy"] = sum(vals) / len(vals)
    return out


def plot(per_seed: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Accuracy at every depth on each fine-tuning task (star: mean cutoff)."""
    rows = [s["tasks"] for s in per_seed if s]
    paths = []
    for task in rows[0] if rows else []:
        curves = {a: [r[task][a]["accuracy_per_depth"] for r in rows] for a in ARCHS}
        marks = {a: sum(r[task][a]["cutoff_depth"] for r in rows) / len(rows) for a in ARCHS}
        paths.append(plot_curves(curves, Path(out_dir) / f"{task}_accuracy_vs_depth.png",
                                 marks=marks, title=f"{task}: accuracy at every depth",
                                 xlabel="depth k (layers used)",
                                 ylabel="accuracy (%)"))  # fmt: skip
    return paths


_CPU_PRETRAIN = {
    "model": "bert_tiny_mlm",
    "data": "text:{data}/tinyshakespeare/input.txt",
    "options": {"vocab_size": 2048, "max_len": 64},
    "epochs": 3,
    "acn_epoch_ratio": 2,
    "optim": {"lr": 2e-3},
    "warmup_fraction": 0.1,
    "batch_size": 64,
}
_CPU_FINETUNE = {
    "model": "bert_tiny",
    "tasks": {"sst2": {"limit": 4000}, "agnews": {"limit": 4000}},
    # lr 1e-3 and 6 epochs: with 5e-4 and 3 epochs (the first cpu run) the training loss had
    # barely moved (0.69 -> 0.67) and both models sat at SST-2's majority rate; chosen on the
    # training loss of one seed-0 run (1e-3: 0.64 after 3 epochs, 2e-3: 0.69), not on the dev set
    "epochs": 6,
    "batch_size": 64,
    "optim": {"lr": 1e-3, "warmup_epochs": 0.3, "label_smoothing": 0.0},
}

EXPERIMENT = register(
    Experiment(
        name="bert",
        title="AC-BERT: MLM pretraining, SST-2 / AG News fine-tuning, cut model cost (§4.2, Table 6)",
        claim=Claim(
            text="AC-BERT cut at its cutoff matches the full residual BERT on downstream tasks "
            "with a fraction of the layers",
            paper="SST-2: Res-BERT 86.63 (110M, 21.72 GFLOPs) vs AC-BERT 86.68 (46M, 5.44 "
            "GFLOPs: 3 of 12 layers); AC-BERT pretrained 2 epochs vs 1",
        ),
        rule=Rule(
            quantity="acn_cut_minus_residual_sst2_pt",
            direction="greater",
            threshold=-1.0,
            describe="non-inferiority: seed-paired SST-2 accuracy of AC-BERT at its cutoff minus "
            "the full residual BERT (points); holds when the 95% t-interval over seeds lies above "
            "-1 point",
        ),
        scales={
            "smoke": Scale(
                params={
                    "model": {"depth": 2, "dim": 32, "num_heads": 2, "mlp_hidden": 64},
                    "pretrain": {
                        **_CPU_PRETRAIN,
                        "epochs": 1,
                        "options": {"vocab_size": 512, "max_len": 32, "limit": 200},
                    },
                    "finetune": {**_CPU_FINETUNE, "epochs": 1, "tasks": {"sst2": {"limit": 200}}},
                },  # fmt: skip
                changes="2-layer width-32 BERT, 200 sequences of tiny-shakespeare, 200 SST-2 "
                "sentences, 1 epoch each (AC-BERT 2)",
            ),
            "cpu": Scale(
                params={"model": {}, "pretrain": _CPU_PRETRAIN, "finetune": _CPU_FINETUNE},
                changes="4-layer width-128 BERT (bert_tiny) pretrained on tiny-shakespeare (1.1 MB, "
                "vocab 2,048, 64 tokens; residual 3 epochs, AC-BERT 6: the paper's 2:1 ratio) "
                "instead of BERT-base on BookCorpus + Wikipedia; fine-tuned 6 epochs (lr 1e-3) on the first "
                "4,000 SST-2 and AG News training rows; SST-2 scored on the GLUE dev set, AG News "
                "on the first 4,000 test rows",
            ),
            "paper": Scale(
                params={
                    "model": {},
                    "pretrain": {
                        "model": "bert_base_mlm",
                        "data": "text:{data}/bookcorpus_wikipedia.txt",
                        "options": {"vocab_size": 32768, "max_len": 128},
                        "epochs": 1,
                        "acn_epoch_ratio": 2,
                        "optim": {
                            "lr": 1e-3,
                            "betas": [0.9, 0.98],
                            "eps": 1e-9,
                            "grad_clip": 0.5,
                        },  # fmt: skip
                        "warmup_fraction": 0.5,
                        "batch_size": 256,
                    },
                    "finetune": {
                        "model": "bert_base",
                        "tasks": {"sst2": {}, "agnews": {}},
                        "epochs": 6,
                        "batch_size": 64,
                        "optim": {
                            "lr": 2e-5,
                            "eps": 1e-8,
                            "warmup_epochs": 0.0,
                            "label_smoothing": 0.0,
                        },  # fmt: skip
                    },
                },
                changes="BERT-base, the authors' recipe (AdamW 1e-3, betas 0.9/0.98, warmup half "
                "the run, clip 0.5), batch 256 instead of 2,048; AC 2 epochs vs residual 1; "
                "fine-tuning 6 epochs at 2e-5; AG News instead of QNLI / QQP",
                data_needed=["bookcorpus_wikipedia"],
            ),
        },
        run_seed=run_seed,
        summarize=summarize,
        plot=plot,
    )
)
