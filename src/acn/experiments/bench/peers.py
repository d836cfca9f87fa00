"""Item ``peer_speedup``: acn's models vs the implementations people use instead.

Three pairs, each computing the same function at the same size on the same random batch:
acn's residual ViT vs ``vit-pytorch``'s ViT, acn's residual BERT vs Hugging Face's
``BertForSequenceClassification`` (SDPA), acn's paper AC-Mixer vs the authors' structure
(:mod:`.reference_mixer`). Parameter counts are checked and printed. Each pair is timed
interleaved with

- the SAME optimizer step on both sides (:func:`~.steps.plain_step`: torch's default AdamW), and
- each side's OWN default: acn's training recipe (:func:`~.steps.acn_step`: fused AdamW, grad
  norm + clipping, label smoothing) vs the peer's (plain AdamW for vit-pytorch and HF; the
  authors' step with label smoothing 0.1 and ``clip_grad_norm_(1.0)`` for the Mixer),

so the reader sees what the optimizer alone buys. Speedup = peer step time / acn step time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .context import BenchContext, record, skipped
from .peer_models import BERT, VIT, PeerMissing, hf_bert, reference_mixer, vit_pytorch
from .steps import Step, acn_step, batch, logits_of, plain_step
from .timing import interleave, median_ms, ratio

GOALS = {"vit": 1.10, "bert": 1.10, "mixer": 1.15}
PARAM_TOLERANCE = 0.01  # relative parameter-count difference accepted as "equal"


def authors_step(model: nn.Module, x: Tensor, y: Tensor) -> Step:
    """The authors' Mixer training step: default AdamW, label smoothing 0.1, clipping at 1."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(logits_of(model(x)), y, label_smoothing=0.1).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return step


def _pairs(ctx: BenchContext) -> dict[str, tuple[Callable, Callable, int]]:
    """family -> (our model factory, peer loader, batch)."""
    v, b = VIT, BERT
    ours_vit = dict(depth=v["depth"], image_size=v["image_size"], patch_size=v["patch_size"])
    ours_vit.update(dim=v["dim"], num_heads=v["heads"], mlp_ratio=v["mlp_dim"] / v["dim"])
    ours_bert = dict(depth=b["layers"], dim=b["hidden"], num_heads=b["heads"])
    ours_bert.update(mlp_hidden=b["ffn"], max_len=b["seq"], vocab_size=b["vocab"])
    full = dict(full_size=True)  # the peers' sizes even at the smoke scale (batch 2 there)
    return {
        "vit": (
            lambda: ctx.model("vit_tiny_cifar", "residual", **full, **ours_vit),
            vit_pytorch,
            64,
        ),
        "bert": (lambda: ctx.model("bert_tiny", "residual", **full, **ours_bert), hf_bert, 32),
        "mixer": (lambda: ctx.model("mixer_cifar_paper", "acn", **full), reference_mixer, 64),
    }


def compare(ctx: BenchContext, family: str, ours_fn, peer_fn, size: int) -> dict[str, Any]:
    try:
        peer, described = peer_fn()
    except PeerMissing as e:
        return {"family": family, "status": "skipped", "reason": str(e)}
    ours = ours_fn()
    torch.manual_seed(ctx.seed)
    x, y = batch(ours, 2 if ctx.scale.tiny else size, ctx.seed)
    peer.train()
    n_ours, n_peer = ours.num_params(), sum(p.numel() for p in peer.parameters())
    steps = {
        "acn_same": plain_step(ours, x, y),
        "peer_same": plain_step(peer, x, y),
        "acn_default": acn_step(ours, x, y),
    }
    if family == "mixer":
        steps["peer_default"] = authors_step(peer, x, y)
    warmup = max(ctx.scale.warmup, 1)
    times = interleave(steps, warmup, ctx.scale.peer_repeats)
    default_peer = "peer_default" if "peer_default" in times else "peer_same"
    same, own = ratio(times, "peer_same", "acn_same"), ratio(times, default_peer, "acn_default")
    ctx.log(f"  peer_speedup {family}: same optimizer {same.text()}, own defaults {own.text()}")
    return {
        "family": family,
        "status": "ok",
        "peer": described,
        "batch": len(x),
        "params_acn": n_ours,
        "params_peer": n_peer,
        "params_equal": abs(n_ours - n_peer) <= PARAM_TOLERANCE * n_peer,
        "acn_ms": round(median_ms(times["acn_same"]), 2),
        "peer_ms": round(median_ms(times["peer_same"]), 2),
        "speedup_same_optimizer": round(same.median, 3),
        "same_p25_p75": [round(same.p25, 3), round(same.p75, 3)],
        "speedup_own_defaults": round(own.median, 3),
        "own_p25_p75": [round(own.p25, 3), round(own.p75, 3)],
        "goal": GOALS[family],
    }


def peer_speedup(ctx: BenchContext) -> dict[str, Any]:
    rows = [compare(ctx, family, *pair) for family, pair in _pairs(ctx).items()]
    done = [r for r in rows if r["status"] == "ok"]
    notes = [f"{r['family']}: skipped, {r['reason']}" for r in rows if r["status"] != "ok"]
    if not done:
        return skipped("; ".join(notes))
    notes += [
        f"{r['family']}: params acn {r['params_acn']:,} vs peer {r['params_peer']:,} "
        f"({'equal within 1%' if r['params_equal'] else 'NOT equal'})"
        for r in done
    ]
    worst = min(done, key=lambda r: r["speedup_same_optimizer"] / r["goal"])
    return record(
        ", ".join(
            f"{r['family']} {r['speedup_same_optimizer']:.2f}x (own defaults "
            f"{r['speedup_own_defaults']:.2f}x)"
            for r in done
        ),
        rows,
        value=worst["speedup_same_optimizer"],
        goal=">= 1.1x each, >= 1.15x for the paper Mixer (same optimizer)",
        met=len(done) == len(rows) and all(r["speedup_same_optimizer"] >= r["goal"] for r in done),
        notes=notes,
    )
