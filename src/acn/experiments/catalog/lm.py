"""``acn reproduce lm`` and ``lm-controls``: character GPTs on tiny-shakespeare in every wiring
and recipe the language-model goals name, and how fast each decodes at equal quality.

Arms (one run each per seed, all on nanoGPT's CPU recipe, ``recipes.GPT_CHAR_NANOGPT``: the
4-layer width-128 ``gpt_char``, batch 12, context 64, lr 1e-3 cosine, no dropout):

- ``residual``: the recipe as it is (2,000 iterations, the 1x budget);
- the ACN family at the paper's 2:1 budget (4,000 iterations, the same 100 warmup steps):
  ``acn-2x``; ``acn-exits-2x``, the ACN with the early-exit loss through the shared head (every
  depth's next-token loss, weights 2k/(L(L+1))); ``hacn-2x``, the authors' hybrid with the
  variant and initial alpha of :data:`HACN` (chosen on validation loss at depth L/2, see there);
- controls (``lm-controls``): ``residual-2x``; ``residual-layerskip-2x`` (LayerSkip's layer
  dropout and rotating early-exit loss, configs/gpt_char_layerskip.yaml); and a residual trained
  from scratch at the G2 model's cut depth, ``residual-cut-1x`` (2,000 iterations) and
  ``residual-cut-2x`` (4,000, the G2 model's windows), its depth set per seed once the ACN family
  has trained (``Arm.depends``; :func:`._lm_claims.g2_model`).

Per arm and seed: validation loss (nats/token over every validation character) at every depth
from one pass through the shared head, the loss cutoff (0.02 nats) with its bootstrap 95 %
interval over the validation windows, the cut model's loss, FLOPs and parameters; then decoding
at batch 1 (:mod:`acn.experiments.decoding`): plain KV cache, self-speculative decoding at every
draft depth K (acceptance rate, mean accepted length; greedy output checked identical to plain),
the cut model (and it self-speculatively), per-token early exit (loss cost beside), every decoder
timed in one process, interleaved, against the residual's plain decoding. The rules are
:mod:`._lm_claims` (fixed before any number); the tables are :mod:`._lm_tables`.

Budget at cpu scale (measured: one torch thread, CPU seconds of ``acn train`` on a shared
machine, which an idle core matches in wall time): a training step of any of these 4-layer
models takes 51-53 ms, a depth-1 one about 15 ms, plus about 4 s a run of setup and its final
evaluation. ``lm``: 2,000 + 3 x 4,000 steps = about 730 s a seed, plus about 110 s of measures
(bootstrap passes, early-exit costs, 4 rounds of 4 prompts x 56 tokens for about 30 decoders):
about 14 minutes a seed, 42 for 3 seeds. ``lm-controls`` reuses ``lm``'s runs (same configs)
and trains 2 x 4,000 steps plus the two cut-depth residuals: about 500 s a seed with its
measures, about 27 minutes for 3 seeds after ``lm`` (80 minutes if run first).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from ...models.registry import get_preset
from ...runs.config import merge
from ...runs.evaldata import load_eval_data
from ...runs.run import Run
from ..decoding import Decoder, decoders_of, exit_losses, time_decoders
from ..figures import plot_points
from ..measures import (
    CUT_FLOPS,
    CUT_FLOPS_FRACTION,
    CUT_MODEL_PARAMS,
    CUTOFF,
    CUTOFF_INTERVAL,
    DATA,
    DEPTH,
    FLOPS,
    HACN_ALPHA,
    LOSS_AT_CUTOFF,
    LOSS_PER_DEPTH,
    PARAMS,
    STEPS,
    TRAIN_TIME_S,
    VAL_LOSS,
    Trained,
)
from ..recipes import GPT2_SMALL_OWT, GPT_CHAR_NANOGPT, SMOKE_LM, Recipe, scale_windows
from ..study import Arm, Contrast, Curve, study
from ..suite import Claim, Scale, SeedResult
from . import _lm_claims as claims
from ._lm_tables import controls_table, lm_table

EXITS: Recipe = {"loss": "exits", "loss_options": {"heads": "shared"}}
LAYERSKIP: Recipe = {"loss": "layerskip",
                     "loss_options": {"p_max": 0.1, "e_scale": 0.2, "rotation": 4}}  # fmt: skip
HACN: Recipe = {"model": {"overrides": {"hacn_attn_skip": True, "hacn_alpha": 0.5}}}
EVAL_BATCH = 200


def twice(params: dict[str, Any], _upstream: Run | None = None) -> Recipe:
    return scale_windows(params["train"], claims.BUDGET_RATIO)


def recipe_depth(recipe: Recipe) -> int:
    """The depth of the recipe's model (its preset's, or the override)."""
    model = recipe["model"]
    return int(model.get("overrides", {}).get("depth", get_preset(model["name"]).defaults["depth"]))


def at_cut_depth(ratio: float):
    """The changes of a residual trained from scratch at the G2 model's cut depth, ``ratio``
    times the recipe's budget; a dry run plans it at half the depth (the real depth is known
    once the ACN family has trained)."""

    def changes(params: dict[str, Any], runs: dict[str, Run] | None) -> Recipe:
        recipe = params["train"]
        depth = recipe_depth(recipe)
        if runs is None:
            cut = max(1, depth // 2)
        else:
            found = {a: claims.loss_numbers(runs[a]) for a in (claims.RESIDUAL, *claims.ACN_FAMILY)}
            cut = found[claims.g2_model(found)]["cutoff"]
        out = scale_windows(recipe, ratio) if ratio != 1 else {}
        if cut != depth:  # at full depth it is the residual arm's config: one shared run
            out = merge(out, {"model": {"overrides": {"depth": cut}}})
        return out

    return changes


def lm_arms(params: dict[str, Any]) -> list[Arm]:
    return [
        Arm(claims.RESIDUAL, "residual"),
        Arm("acn-2x", "acn", twice),
        Arm("acn-exits-2x", "acn", lambda p, _u: merge(twice(p), EXITS)),
        Arm("hacn-2x", "hacn", lambda p, _u: merge(twice(p), HACN)),
    ]


def controls_arms(params: dict[str, Any]) -> list[Arm]:
    return lm_arms(params) + [
        Arm(claims.RESIDUAL_2X, "residual", twice),
        Arm(claims.LAYERSKIP, "residual", lambda p, _u: merge(twice(p), LAYERSKIP)),
        Arm(claims.CUT_RESIDUAL_1X, "residual", depends=at_cut_depth(1.0)),
        Arm(claims.CUT_RESIDUAL, "residual", depends=at_cut_depth(claims.BUDGET_RATIO)),
    ]


MEASURES = (
    VAL_LOSS, LOSS_PER_DEPTH, DEPTH, CUTOFF, CUTOFF_INTERVAL, LOSS_AT_CUTOFF, FLOPS, CUT_FLOPS,
    CUT_FLOPS_FRACTION, PARAMS, CUT_MODEL_PARAMS, STEPS, TRAIN_TIME_S, DATA,
    dataclasses.replace(HACN_ALPHA, arms=("hacn-2x",)),
)  # fmt: skip


# -- decoding, every arm side by side ----------------------------------------------------------


def arm_decoding(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One arm's decoding numbers from its decoders' rows (name -> row)."""
    lossless = {n: r for n, r in rows.items() if r["lossless"]}
    best = max(lossless, key=lambda n: lossless[n]["speedup"])
    spec = {n: r for n, r in rows.items() if n.startswith("spec-K")}
    out: dict[str, Any] = {
        "decoders": rows,
        "plain_speedup": rows["plain"]["speedup"],
        "plain_tokens_per_s": rows["plain"]["tokens_per_s"],
        "best_lossless_decoder": best,
        "best_lossless_speedup": lossless[best]["speedup"],
        "best_lossless_loss": lossless[best]["loss"],
        "best_lossless_blocks": lossless[best]["blocks"],
        "best_lossless_seconds": lossless[best]["seconds"],
        "lossless_identical": all(r.get("same_tokens_as_plain", True) for r in rows.values()),
    }
    if spec:
        k = max(spec, key=lambda n: spec[n]["speedup"])
        out.update(spec_best_k=int(k.removeprefix("spec-K")), spec_speedup=spec[k]["speedup"],
                   spec_acceptance_rate=spec[k]["acceptance_rate"],
                   spec_mean_accepted_length=spec[k]["mean_accepted_length"])  # fmt: skip
    if "cut" in rows:
        out["cut_speedup"] = rows["cut"]["speedup"]
    exits = {n: r for n, r in rows.items() if n.startswith("exit-")}
    if exits:
        full = rows["plain"]["loss"]
        out["exit_speedup"] = [r["speedup"] for r in exits.values()]
        out["exit_loss_cost"] = [r["loss"] - full for r in exits.values()]
        out["exit_mean_depth"] = [r.get("mean_exit_depth") for r in exits.values()]
    return out


def decode(trained: dict[str, Trained], keys: list[str]) -> dict[str, dict[str, Any]]:
    """Every decoder of the ``keys`` arms, timed side by side against the residual's plain
    decoding (see :mod:`acn.experiments.decoding`)."""
    first = next(iter(trained.values()))
    p = first.params["decode"]
    decoders: list[Decoder] = []
    for key in keys:
        t = trained[key]
        found = decoders_of(key, t.model(), t.summary("loss_per_depth"), t.summary("cutoff_depth"),
                            p["thresholds"])  # fmt: skip
        exit_losses(found, lambda t=t: load_eval_data(t.run.config).batches(EVAL_BATCH))
        decoders += found
    windows = next(iter(load_eval_data(trained[claims.RESIDUAL].run.config).batches(p["prompts"])))
    prompts = windows[0][:, : p["prompt_tokens"]]
    rows = time_decoders(decoders, prompts, p["new_tokens"], f"{claims.RESIDUAL}/plain",
                         p["repeats"])  # fmt: skip
    out = {}
    for key in keys:
        mine = {k.split("/", 1)[1]: r for k, r in rows.items() if k.split("/", 1)[0] == key}
        out[key] = arm_decoding(mine) | {"decode_threads": torch.get_num_threads()}
    return out


def lm_together(trained: dict[str, Trained]) -> dict[str, dict[str, Any]]:
    return decode(trained, [claims.RESIDUAL, *claims.ACN_FAMILY])


def controls_together(trained: dict[str, Trained]) -> dict[str, dict[str, Any]]:
    found = {a: claims.loss_numbers(trained[a].run) for a in (claims.RESIDUAL, *claims.ACN_FAMILY)}
    return decode(trained, [claims.RESIDUAL, claims.g2_model(found), *claims.CONTROLS])


def contrasts(fn, names: list[str]) -> list[Contrast]:
    return [Contrast(n, lambda a, n=n: fn(a)[n]) for n in names]


LM_CONTRASTS = contrasts(
    claims.lm_contrasts,
    ["residual_val_loss", "g2_model", "g2_speedup", "g2_loss_gap", "g2_cutoff"]
    + [f"{q}:{a}" for a in claims.ACN_FAMILY for q in ("speedup", "loss_gap")],
)
CONTROLS_CONTRASTS = contrasts(
    claims.controls_contrasts,
    ["g2_model", "g2_cutoff", "loss_gain_over_cut_residual", "speed_over_layerskip",
     "loss_gain_over_layerskip"]
    + [f"{q}:{c}" for c in claims.CONTROLS for q in ("loss_gain_over", "speed_over")],
)  # fmt: skip


# -- figures ---------------------------------------------------------------------------------------


def plot_speed(per_seed: list[SeedResult], out_dir: Path) -> list[Path]:
    """Validation loss against speedup of every arm's fastest lossless decoding (each seed)."""
    arms = [a for a in per_seed[0]["arms"] if "best_lossless_speedup" in per_seed[0]["arms"][a]]
    points = {
        a: [(r["arms"][a]["best_lossless_speedup"], r["arms"][a]["best_lossless_loss"])
            for r in per_seed if "best_lossless_speedup" in r["arms"].get(a, {})]
        for a in arms
    }  # fmt: skip
    path = plot_points(
        points,
        Path(out_dir) / "loss_vs_speedup.png",
        title="fastest lossless decoding at batch 1: loss against speed",
        xlabel="tokens/s over the residual's plain KV-cache decoding",
        ylabel="validation loss of what is decoded (nats/token)",
    )
    return [path]


def loss_curve(arms: tuple[str, ...]) -> Curve:
    return Curve("loss_vs_depth.png", "loss_per_depth", arms=arms, marks="cutoff",
                 title="validation loss at every depth (star: mean loss cutoff)",
                 xlabel="depth k (blocks used, shared head)",
                 ylabel="validation loss (nats/token)")  # fmt: skip


# -- scales ----------------------------------------------------------------------------------------

DECODE = {"prompts": 4, "prompt_tokens": 8, "new_tokens": 56, "repeats": 4,
          "thresholds": [0.8, 0.5]}  # fmt: skip
SCALES = {
    "smoke": Scale(
        {
            "train": SMOKE_LM,
            "decode": {
                "prompts": 2,
                "prompt_tokens": 4,
                "new_tokens": 6,
                "repeats": 2,
                "thresholds": [0.5],
            },
        },  # fmt: skip
        "3-block width-16 character GPT (context 16) on the generated corpus, 10 steps (20 at "
        "2x); 2 prompts of 6 new tokens",
    ),
    "cpu": Scale(
        {"train": GPT_CHAR_NANOGPT, "decode": DECODE},
        "nanoGPT's CPU recipe on tiny-shakespeare characters (4-layer width-128 gpt_char, "
        "2,000 iterations of 12 windows of 64; the ACN family and the 2x controls 4,000); "
        "decoding: 4 validation prompts of 8 characters, 56 new tokens each, 4 rounds",
    ),
    "paper": Scale(
        {"train": GPT2_SMALL_OWT, "decode": DECODE | {"new_tokens": 256, "prompt_tokens": 64}},
        "GPT-2 small's shapes (124M, context 1024, 50,257-token BPE) on the user's "
        "OpenWebText-style text, 600 steps of 480 windows (2x: 1,200), FSDP2 under torchrun: a "
        "dry run's plan here",
    ),
}
FOUR = (claims.RESIDUAL, *claims.ACN_FAMILY)
LM_CLAIM = Claim(
    text="G1: the residual gpt_char with nanoGPT's CPU recipe reaches validation loss <= 1.90 "
    "on tiny-shakespeare; G2: the best ACN-family model (acn, acn + early-exit loss or hacn, "
    "trained 2x as long), decoded losslessly at batch 1, generates >= 2.0x the residual's "
    "plain KV-cache tokens/s with validation loss within 0.05 nats of the residual's",
    paper="nanoGPT's README: 1.88 for this recipe; the ACN paper trains GPT-2 style models in "
    "ACN and hybrid wirings but decodes none of them",
    kind="goal",
)
CONTROLS_CLAIM = Claim(
    text="G2 against the honest controls: the G2 model's decoded loss is below that of a "
    "residual of its cut depth trained from scratch on as many windows, and it decodes faster "
    "than residual + LayerSkip's best lossless self-speculation at a loss within 0.05 nats of it",
    paper="LayerSkip (Elhoushi et al. 2024): self-speculative decoding of Llama models trained "
    "with layer dropout and an early-exit loss, 1.82-2.16x lossless; not in the ACN paper",
    kind="goal",
)

EXPERIMENT = study(
    name="lm",
    title="Character GPTs on tiny-shakespeare: nanoGPT's loss, and ACN decoding at 2x speed",
    claim=LM_CLAIM,
    rule=claims.lm_rule(),
    arms=lm_arms,
    measures=MEASURES,
    contrasts=LM_CONTRASTS,
    together=lm_together,
    curves=(loss_curve(FOUR),),
    plot=plot_speed,
    readme={"lm-table": lm_table},
    report=("lm-table",),
    scales=SCALES,
)
OTHER_SETTINGS = (
    study(
        name="lm-controls",
        title="ACN decoding against the honest controls: a residual at the cut depth, LayerSkip",
        claim=CONTROLS_CLAIM,
        rule=claims.controls_rule(),
        arms=controls_arms,
        measures=MEASURES,
        contrasts=CONTROLS_CONTRASTS,
        together=controls_together,
        curves=(loss_curve((claims.RESIDUAL, claims.RESIDUAL_2X, claims.LAYERSKIP)),),
        plot=plot_speed,
        readme={"lm-controls-table": controls_table},
        report=("lm-controls-table",),
        scales=SCALES,
    ),
)
