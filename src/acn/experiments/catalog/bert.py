"""Experiment ``bert`` (paper §4.2, §5.5, Table 6): masked-LM pretraining of AC-BERT and a residual
BERT, a gate on what the pretraining learned, then fine-tuning on SST-2; accuracy at every depth,
the cutoff, and the parameters and FLOPs of the cut model.

Per seed:

1. Pretraining on in-domain unlabelled text (at cpu scale the SST-2 and AG News training
   sentences, ``configs/bert_mlm_sst2_agnews.yaml``: a WordPiece tokenizer trained on that text,
   no label smoothing, warmup half the run, clip 0.5); AC-BERT gets twice the residual BERT's
   epochs (the paper's 2:1 budget).
2. The gate (:func:`acn.analysis.pretraining.pretraining_gate`): full-depth accuracy on the
   ``[MASK]``-input positions of the held-out text must exceed the unigram rate by the margin
   declared before any run (5 points). If either model of the seed fails, the seed is reported as
   failed pretraining and nothing is fine-tuned or compared (its rule value is missing, so the
   verdict cannot be ``holds`` or ``does-not-hold``).
3. Fine-tuning from each pretrained encoder (``init_from``, the pretraining tokenizer) at every
   candidate learning rate, on the training rows minus a validation split carved from them
   (``data.validation``); the candidate with the best full-depth validation accuracy is chosen
   and its cutoff is taken on the validation rows too. The reported set (SST-2's GLUE dev set) is
   read only to score the chosen model, never to choose.

The rule: AC-BERT's dev accuracy at its cutoff minus the full residual BERT's, non-inferiority
within 1 point. (Until this rule the experiment pretrained on tiny-shakespeare with no gate, chose
the fine-tuning learning rate on a first look at the dev set and took the cutoff on the dev set;
its verdict stays as history. The first gated cpu recipe, 64-token pretraining rows and 1
epoch, failed the gate on every seed, 3-5; it stays as history too, and the 16-token recipe below
is judged on seeds never run before, 6-8.)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ...analysis.pretraining import pretraining_gate
from ...evaluation import evaluate_per_depth
from ...evaluation.masked_lm import GATE_MARGIN
from ...runs.config import merge
from ...runs.evaldata import load_eval_data
from ...runs.inputs import load_train_data
from ...runs.run import Run
from ...train.distributed import resolve_device
from ..context import RunContext
from ..figures import plot_curves
from ..measures import (
    CUT_FLOPS_FRACTION,
    FLOPS_PER_DEPTH,
    RUN_NUMBERS,
    Measure,
    Trained,
    measure,
)
from ..recipes import Dataset, Generated, Recipe
from ..suite import Claim, Experiment, Rule, Scale, SeedResult

ARCHS = ("acn", "residual")
TASK = "sst2"  # the task the rule reads
QUANTITY = "acn_cut_minus_residual_sst2_pt"
SST2 = Dataset("tsv", "sst2", "GLUE SST-2: train.tsv and validation.tsv")

IN_DOMAIN = Dataset("text", "sst2/train.tsv", "the SST-2 and AG News training sentences",
                    more=("agnews/train.tsv",))  # fmt: skip
EVAL_BATCH = 256


def pretrain_config(ctx: RunContext, p: dict[str, Any], arch: str):
    """MLM pretraining: the residual model gets the recipe's ``epochs``, AC-BERT
    ``acn_epoch_ratio`` times more; warmup is ``warmup_fraction`` of each one's epochs."""
    ratio = p["acn_epoch_ratio"] if arch == "acn" else 1
    epochs = int(round(p["pretrain"]["epochs"] * ratio))
    changes = {"epochs": epochs, "optim": {"warmup_epochs": p["warmup_fraction"] * epochs}}
    return ctx.config(p["pretrain"], arch, changes)


def finetune_config(ctx: RunContext, p: dict[str, Any], arch: str, lr: float, upstream: Run | None):
    """Fine-tuning on the task from ``upstream``'s encoder with its tokenizer, at ``lr``, on the
    training rows minus the validation split (which it is scored on)."""
    task = p["task"]
    data = {"spec": task["spec"], "options": dict(task["options"]),
            "validation": p["validation"]}  # fmt: skip
    changes: Recipe = {"data": data, "optim": {"lr": lr}}
    if upstream is not None:
        data["options"]["tokenizer"] = load_train_data(upstream.config).info["tokenizer_path"]
        changes["init_from"] = str(upstream.path.resolve())
    return ctx.config(p["finetune"], arch, changes)


def lr_key(arch: str, lr: float) -> str:
    return f"{arch}-{TASK}-lr{lr:g}"


def gate_numbers(run: Run, margin: float, device: str) -> dict[str, Any]:
    gate = pretraining_gate(run.path, margin, device=resolve_device(device), batch_size=EVAL_BATCH)
    return {f"gate_{k}": v for k, v in gate.to_dict().items()}


def dev_numbers(t: Trained) -> dict[str, Any]:
    """The chosen model scored on the reported set (the task's test split: no validation rows
    held out), at every depth and at its cutoff taken on the validation rows."""
    cfg = t.run.config
    dev = load_eval_data(
        dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, validation=0.0))
    )
    model = t.model()
    acc = evaluate_per_depth(model, dev.batches(EVAL_BATCH), next(model.parameters()).device)
    cutoff = int(t.summary("cutoff_depth"))
    return {"dev_accuracy_per_depth": acc.accuracy, "dev_accuracy": acc.accuracy[-1],
            "dev_accuracy_at_cutoff": acc.accuracy[cutoff]}  # fmt: skip


CUT_PARAMS_FRACTION = Measure(
    "cut_params_fraction", lambda t: t.summary("cut_model_params") / t.summary("params"), False
)
FINETUNED = (*RUN_NUMBERS, FLOPS_PER_DEPTH, CUT_FLOPS_FRACTION, CUT_PARAMS_FRACTION,
             Measure("dev", dev_numbers, group=True))  # fmt: skip


def choose(candidates: dict[float, dict[str, Any]]) -> float:
    """The learning rate with the best full-depth validation accuracy (ties: the first listed)."""
    return max(candidates, key=lambda lr: candidates[lr]["accuracy"])


def compare(acn: dict[str, Any], residual: dict[str, Any]) -> float:
    """AC-BERT's dev accuracy at its cutoff minus the full residual BERT's (points)."""
    return acn["dev_accuracy_at_cutoff"] - residual["dev_accuracy"]


def run_seed(ctx: RunContext, scale: Scale, seed: int) -> SeedResult:
    p = scale.params
    pretrained = {a: ctx.train(f"{a}-mlm", pretrain_config(ctx, p, a)) for a in ARCHS}
    if ctx.dry_run:  # plan every candidate fine-tuning (from a fresh encoder)
        for arch in ARCHS:
            for lr in p["lrs"]:
                ctx.train(lr_key(arch, lr), finetune_config(ctx, p, arch, lr, None))
        return {}
    arms: dict[str, dict[str, Any]] = {}
    for arch, run in pretrained.items():
        assert run is not None
        t = Trained(run, f"{arch}-mlm", seed=seed, params=p, device=ctx.device)
        arms[f"{arch}-mlm"] = measure(t, RUN_NUMBERS) | gate_numbers(run, p["gate_margin"],
                                                                     ctx.device)  # fmt: skip
    passed = all(arms[f"{a}-mlm"]["gate_passed"] for a in ARCHS)
    contrasts: dict[str, Any] = {"pretraining_passed": int(passed),
                                 "gate_enforced": int(p["enforce_gate"])}  # fmt: skip
    if not passed and p["enforce_gate"]:
        ctx.log("failed pretraining (the gate): nothing fine-tuned or compared")
        contrasts[QUANTITY] = None
        return {"arms": arms, "contrasts": contrasts}
    for arch in ARCHS:
        candidates = {}
        for lr in p["lrs"]:
            key = lr_key(arch, lr)
            run = ctx.train(key, finetune_config(ctx, p, arch, lr, pretrained[arch]))
            assert run is not None
            candidates[lr] = {"run": Trained(run, key, seed=seed, params=p, device=ctx.device)}
            candidates[lr]["accuracy"] = candidates[lr]["run"].summary("accuracy")
        best = choose(candidates)
        arms[f"{arch}-{TASK}"] = {
            **measure(candidates[best]["run"], FINETUNED),
            "chosen_lr": best,
            "validation_accuracy_by_lr": {f"{lr:g}": c["accuracy"] for lr, c in
                                          candidates.items()},
        }  # fmt: skip
    contrasts[QUANTITY] = compare(arms[f"acn-{TASK}"], arms[f"residual-{TASK}"])
    return {"arms": arms, "contrasts": contrasts}


def summarize(per_seed: list[SeedResult]) -> dict[str, Any]:
    failed = [r["seed"] for r in per_seed if not r["contrasts"].get("pretraining_passed")]
    return {"failed_pretraining_seeds": failed, "gate_margin_pt": per_seed[0]["arms"]["acn-mlm"]
            ["gate_margin"] if per_seed else None}  # fmt: skip


def plot(per_seed: list[SeedResult], out_dir: Path) -> list[Path]:
    """Dev accuracy at every depth after fine-tuning (star: mean cutoff), seeds that were
    fine-tuned only."""
    tuned = [r for r in per_seed if f"acn-{TASK}" in r["arms"]]
    if not tuned:
        return []
    arms = {a: [r["arms"][f"{a}-{TASK}"] for r in tuned] for a in ARCHS}
    curves = {a: [n["dev_accuracy_per_depth"] for n in rows] for a, rows in arms.items()}
    marks = {a: sum(n["cutoff"] for n in rows) / len(rows) for a, rows in arms.items()}
    return [plot_curves(curves, Path(out_dir) / f"{TASK}_accuracy_vs_depth.png", marks=marks,
                        title=f"{TASK}: dev accuracy at every depth",
                        xlabel="depth k (layers used)", ylabel="accuracy (%)")]  # fmt: skip


# configs/bert_mlm_sst2_agnews.yaml (the residual run; tests/test_experiments_rules_paper_axes.py
# checks they agree).
# Why pretraining rows of 16 tokens, not 64: with 64-token rows this model stays on the unigram
# plateau (it predicts `the` at every mask) far beyond the budget: exploratory residual runs on
# seed 100, judged only on the gate (held-out pretraining text), reached +0.0 points in 1 epoch,
# +0.94 in 5 and +1.56 with a 2,048 vocabulary in 8. With 16-token rows the same number of tokens
# per epoch gives 4x the steps and an attention that finds its neighbours sooner: residual 2
# epochs +10.0 points, AC-BERT 4 epochs (the 2:1 ratio) past the margin too; AC-BERT at 2e-3
# was slower. BERT itself pretrained 90% of its steps on short sequences (Devlin et al. 2019).
CPU_PRETRAIN: Recipe = {
    # 64 positions, as fine-tuning reads; pretraining rows fill the first 16 (see above)
    "model": {"name": "bert_tiny_mlm", "overrides": {"max_len": 64}},
    "data": {"spec": IN_DOMAIN, "options": {"vocab_size": 8192, "max_len": 16}},
    "optim": {
        "lr": 1e-3,
        "betas": [0.9, 0.98],
        "eps": 1e-9,
        "weight_decay": 0.01,
        "warmup_epochs": 1.0,
        "label_smoothing": 0.0,
        "grad_clip": 0.5,
    },  # fmt: skip
    "epochs": 2,
    "batch_size": 64,
    "eval_batch_size": 256,
}
CPU_FINETUNE: Recipe = {
    "model": {"name": "bert_tiny", "overrides": {}},
    "data": {"options": {"max_len": 64}},
    "optim": {"warmup_epochs": 0.3, "label_smoothing": 0.0},
    "epochs": 3,
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
    "optim": {
        "lr": 1e-3,
        "betas": [0.9, 0.98],
        "eps": 1e-9,
        "grad_clip": 0.5,
        "label_smoothing": 0.0,
    },  # fmt: skip
    "epochs": 1,
    "batch_size": 256,
    "eval_batch_size": 256,
}
_PAPER_FINETUNE: Recipe = {
    "model": {"name": "bert_base", "overrides": {}},
    "data": {"options": {"max_len": 128}},
    "optim": {"eps": 1e-8, "warmup_epochs": 0.0, "label_smoothing": 0.0},
    "epochs": 6,
    "batch_size": 64,
    "eval_batch_size": 256,
    "init_skip": ["head."],
}
COMMON = {"acn_epoch_ratio": 2, "warmup_fraction": 0.5, "validation": 0.1,
          "gate_margin": GATE_MARGIN, "enforce_gate": True}  # fmt: skip

EXPERIMENT = Experiment(
    name="bert",
    title="AC-BERT: MLM pretraining with a gate, SST-2 fine-tuning, cut model cost (§4.2, Table 6)",
    claim=Claim(
        text="AC-BERT cut at its cutoff matches the full residual BERT on downstream tasks "
        "with a fraction of the layers",
        paper="SST-2: Res-BERT 86.63 (110M, 21.72 GFLOPs) vs AC-BERT 86.68 (46M, 5.44 "
        "GFLOPs: 3 of 12 layers); AC-BERT pretrained 2 epochs vs 1",
    ),
    rule=Rule(
        quantity=QUANTITY,
        direction="greater",
        threshold=-1.0,
        describe="non-inferiority: seed-paired SST-2 dev accuracy of AC-BERT at its cutoff "
        "(taken on validation rows carved from the training rows) minus the full residual BERT "
        "(points), each fine-tuned at the learning rate with the best validation accuracy; "
        "holds when the 95% t-interval over seeds lies above -1 point; a seed whose "
        "pretraining fails the MLM gate (accuracy on [MASK] inputs > unigram rate + 5 points, "
        "both models) is not fine-tuned and has no value, so the verdict is inconclusive",
    ),
    scales={
        "smoke": Scale(
            params={
                **COMMON,
                "pretrain": merge(
                    CPU_PRETRAIN,
                    {
                        "model": {"overrides": {**_SMOKE_MODEL, "max_len": 32}},
                        "data": {
                            "spec": Generated("text", "corpus"),
                            "options": {"vocab_size": 512, "max_len": 32, "limit": 200},
                        },
                        "epochs": 1,
                    },
                ),
                "finetune": merge(
                    CPU_FINETUNE,
                    {
                        "model": {"overrides": _SMOKE_MODEL},
                        "data": {"options": {"max_len": 32}},
                        "epochs": 1,
                    },
                ),
                "lrs": [1e-3],
                "task": {"spec": Generated("tsv", "sentiment"), "options": {"limit": 200}},
                "enforce_gate": False,
            },  # fmt: skip
            changes="2-layer width-32 BERT, 200 sequences of a generated English-like corpus, "
            "a generated two-class sentiment task in SST-2's layout standing in for SST-2, 1 "
            "epoch each (AC-BERT 2), one learning rate; the gate is measured and reported but "
            "not enforced (a model this small learns no context: the smoke run checks the code "
            "path, the cpu and paper scales enforce it)",
        ),
        "cpu": Scale(
            params={
                **COMMON,
                "pretrain": CPU_PRETRAIN,
                "finetune": CPU_FINETUNE,
                "lrs": [3e-4, 1e-3],
                "task": {"spec": SST2, "options": {"limit": 4000}},
            },  # fmt: skip
            changes="4-layer width-128 post-LN BERT (bert_tiny) pretrained on the SST-2 and AG "
            "News training sentences (labels unread, 10% held out for the gate; WordPiece 8,192 "
            "trained on that text; rows of 16 tokens, 64 positions for fine-tuning; residual 2 "
            "epochs, AC-BERT 4: the paper's 2:1 ratio; AdamW 1e-3, betas 0.9/0.98, warmup half "
            "the run, clip 0.5, no label smoothing) instead of BERT-base on BookCorpus + "
            "Wikipedia; fine-tuned 3 epochs on 64-token rows of "
            "the first 4,000 SST-2 training rows less a 10% validation split, learning rate "
            "3e-4 or 1e-3 chosen on it; scored on the GLUE dev set; no AG News fine-tuning "
            "(the 30-minute budget)",
        ),
        "paper": Scale(
            params={
                **COMMON,
                "pretrain": _PAPER_PRETRAIN,
                "finetune": _PAPER_FINETUNE,
                "lrs": [1e-5, 2e-5, 5e-5],
                "task": {"spec": SST2, "options": {}},
            },  # fmt: skip
            changes="BERT-base, the authors' recipe (AdamW 1e-3, betas 0.9/0.98, warmup half "
            "the run, clip 0.5), batch 256 instead of 2,048; AC 2 epochs vs residual 1; "
            "fine-tuning 6 epochs at 1e-5 / 2e-5 / 5e-5 chosen on a validation split; QNLI and "
            "QQP not run",
        ),
    },
    run_seed=run_seed,
    summarize=summarize,
    plot=plot,
)
