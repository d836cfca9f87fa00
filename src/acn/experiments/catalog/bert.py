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

from ...runs.config import merge
from ...runs.inputs import load_train_data
from ...runs.run import Run
from ..figures import plot_curves
from ..measures import (
    ACCURACY_AT_CUTOFF,
    CUT_FLOPS_FRACTION,
    FLOPS_PER_DEPTH,
    RUN_NUMBERS,
    Measure,
)
from ..recipes import Dataset, Generated, Recipe
from ..study import Arm, Contrast, study
from ..suite import Claim, Rule, Scale, SeedResult

ARCHS = ("acn", "residual")
SST2 = Dataset("tsv", "sst2", "GLUE SST-2: train.tsv and validation.tsv")
AGNEWS = Dataset("tsv", "agnews", "AG News: train.tsv and test.tsv")
SHAKESPEARE = Dataset("text", "tinyshakespeare/input.txt", "tiny-shakespeare as one text file")


def pretrain_changes(arch: str):
    """MLM pretraining: the residual model gets ``epochs``, AC-BERT ``acn_epoch_ratio`` times
    more; warmup is a fraction of each one's epochs."""

    def changes(p: dict[str, Any], _upstream: Run | None) -> Recipe:
        ratio = p["acn_epoch_ratio"] if arch == "acn" else 1
        epochs = int(round(p["pretrain"]["epochs"] * ratio))
        return {"epochs": epochs, "optim": {"warmup_epochs": p["warmup_fraction"] * epochs}}

    return changes


def finetune_changes(task: str):
    """Fine-tuning on ``task`` with the pretraining tokenizer (the encoder's weights come from
    the pretraining run: ``after``)."""

    def changes(p: dict[str, Any], upstream: Run | None) -> Recipe:
        data = {"spec": p["tasks"][task]["spec"], "options": dict(p["tasks"][task]["options"])}
        if upstream is not None:
            info = load_train_data(upstream.config).info
            data["options"]["tokenizer"] = info["tokenizer_path"]
        return {"data": data}

    return changes


def arms(p: dict[str, Any]) -> list[Arm]:
    out = []
    for arch in ARCHS:
        out.append(Arm(f"{arch}-mlm", arch, pretrain_changes(arch), recipe="pretrain"))
        for task in p["tasks"]:
            out.append(Arm(f"{arch}-{task}", arch, finetune_changes(task), recipe="finetune",
                           after=f"{arch}-mlm"))  # fmt: skip
    return out


def contrasts(p: dict[str, Any]) -> list[Contrast]:
    """Per task: AC-BERT at its cutoff minus the full residual BERT (points)."""
    return [
        Contrast(f"acn_cut_minus_residual_{task}_pt",
                 lambda a, t=task: a[f"acn-{t}"]["accuracy_at_cutoff"] - a[f"residual-{t}"]["accuracy"])
        for task in p["tasks"]
    ]  # fmt: skip


CUT_PARAMS_FRACTION = Measure(
    "cut_params_fraction", lambda t: t.summary("cut_model_params") / t.summary("params"), False
)


def plot(per_seed: list[SeedResult], out_dir: Path) -> list[Path]:
    """Accuracy at every depth on each fine-tuning task (star: mean cutoff)."""
    tasks = [k.removeprefix("acn-") for k in per_seed[0]["arms"]
             if k.startswith("acn-") and k != "acn-mlm"]  # fmt: skip
    paths = []
    for task in tasks:
        arms = {a: [r["arms"][f"{a}-{task}"] for r in per_seed] for a in ARCHS}
        curves = {a: [n["accuracy_per_depth"] for n in rows] for a, rows in arms.items()}
        marks = {a: sum(n["cutoff"] for n in rows) / len(rows) for a, rows in arms.items()}
        paths.append(plot_curves(curves, Path(out_dir) / f"{task}_accuracy_vs_depth.png",
                                 marks=marks, title=f"{task}: accuracy at every depth",
                                 xlabel="depth k (layers used)",
                                 ylabel="accuracy (%)"))  # fmt: skip
    return paths


_CPU_PRETRAIN: Recipe = {
    "model": {"name": "bert_tiny_mlm", "overrides": {}},
    "data": {"spec": SHAKESPEARE, "options": {"vocab_size": 2048, "max_len": 64}},
    "optim": {"lr": 2e-3},
    "epochs": 3,
    "batch_size": 64,
    "eval_batch_size": 256,
}
_CPU_FINETUNE: Recipe = {
    "model": {"name": "bert_tiny", "overrides": {}},
    "data": {"options": {"max_len": 64}},
    # lr 1e-3 and 6 epochs: with 5e-4 and 3 epochs (the first cpu run) the training loss had
    # barely moved (0.69 -> 0.67) and both models sat at SST-2's majority rate; chosen on the
    # training loss of one seed-0 run (1e-3: 0.64 after 3 epochs, 2e-3: 0.69), not on the dev set
    "optim": {"lr": 1e-3, "warmup_epochs": 0.3, "label_smoothing": 0.0},
    "epochs": 6,
    "batch_size": 64,
    "eval_batch_size": 256,
    "init_skip": ["head."],  # the MLM head's transform is not the classifier's pooler
}
_SMOKE_MODEL = {"depth": 2, "dim": 32, "num_heads": 2, "mlp_hidden": 64}
_PAPER_PRETRAIN: Recipe = {
    "model": {"name": "bert_base_mlm", "overrides": {}},
    "data": {
        "spec": Dataset(
            "text", "bookcorpus_wikipedia.txt", "BookCorpus + Wikipedia as one text file"
        ),
        "options": {"vocab_size": 32768, "max_len": 128},
    },  # fmt: skip
    "optim": {"lr": 1e-3, "betas": [0.9, 0.98], "eps": 1e-9, "grad_clip": 0.5},
    "epochs": 1,
    "batch_size": 256,
    "eval_batch_size": 256,
}
_PAPER_FINETUNE: Recipe = {
    "model": {"name": "bert_base", "overrides": {}},
    "data": {"options": {"max_len": 128}},
    "optim": {"lr": 2e-5, "eps": 1e-8, "warmup_epochs": 0.0, "label_smoothing": 0.0},
    "epochs": 6,
    "batch_size": 64,
    "eval_batch_size": 256,
    "init_skip": ["head."],
}

EXPERIMENT = study(
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
    arms=arms,
    measures=(
        *RUN_NUMBERS,
        FLOPS_PER_DEPTH,
        CUT_FLOPS_FRACTION,
        CUT_PARAMS_FRACTION,
        ACCURACY_AT_CUTOFF,
    ),  # fmt: skip
    contrasts=contrasts,
    plot=plot,
    scales={
        "smoke": Scale(
            params={
                "pretrain": merge(
                    _CPU_PRETRAIN,
                    {
                        "model": {"overrides": _SMOKE_MODEL},
                        "data": {
                            "spec": Generated("text", "corpus"),
                            "options": {"vocab_size": 512, "max_len": 32, "limit": 200},
                        },
                        "epochs": 1,
                    },
                ),
                "acn_epoch_ratio": 2,
                "warmup_fraction": 0.1,
                "finetune": merge(
                    _CPU_FINETUNE,
                    {
                        "model": {"overrides": _SMOKE_MODEL},
                        "data": {"options": {"max_len": 32}},
                        "epochs": 1,
                    },
                ),
                "tasks": {
                    "sst2": {"spec": Generated("tsv", "sentiment"), "options": {"limit": 200}}
                },
            },  # fmt: skip
            changes="2-layer width-32 BERT, 200 sequences of a generated English-like corpus, "
            "a generated two-class sentiment task in SST-2's layout standing in for SST-2, 1 "
            "epoch each (AC-BERT 2): data the package writes, so it runs anywhere",
        ),
        "cpu": Scale(
            params={
                "pretrain": _CPU_PRETRAIN,
                "acn_epoch_ratio": 2,
                "warmup_fraction": 0.1,
                "finetune": _CPU_FINETUNE,
                "tasks": {
                    "sst2": {"spec": SST2, "options": {"limit": 4000}},
                    "agnews": {"spec": AGNEWS, "options": {"limit": 4000}},
                },
            },  # fmt: skip
            changes="4-layer width-128 BERT (bert_tiny) pretrained on tiny-shakespeare (1.1 MB, "
            "vocab 2,048, 64 tokens; residual 3 epochs, AC-BERT 6: the paper's 2:1 ratio) "
            "instead of BERT-base on BookCorpus + Wikipedia; fine-tuned 6 epochs (lr 1e-3) on the first "
            "4,000 SST-2 and AG News training rows; SST-2 scored on the GLUE dev set, AG News "
            "on the first 4,000 test rows",
        ),
        "paper": Scale(
            params={
                "pretrain": _PAPER_PRETRAIN,
                "acn_epoch_ratio": 2,
                "warmup_fraction": 0.5,
                "finetune": _PAPER_FINETUNE,
                "tasks": {
                    "sst2": {"spec": SST2, "options": {}},
                    "agnews": {"spec": AGNEWS, "options": {}},
                },
            },  # fmt: skip
            changes="BERT-base, the authors' recipe (AdamW 1e-3, betas 0.9/0.98, warmup half "
            "the run, clip 0.5), batch 256 instead of 2,048; AC 2 epochs vs residual 1; "
            "fine-tuning 6 epochs at 2e-5; AG News instead of QNLI / QQP",
        ),
    },
)
