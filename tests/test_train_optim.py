"""AdamW parameter groups and the warmup + cosine schedule."""

from __future__ import annotations

import math

import pytest
import torch

import acn
from acn.errors import ConfigError
from acn.models import tiny_overrides
from acn.runs.config import OptimSection
from acn.train.optim import WarmupCosine, build_optimizer, param_groups


def _names(model, group):
    ids = {id(p) for p in group["params"]}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def test_decay_on_every_parameter_by_default_as_the_authors():
    mixer = acn.create_model("mixer_s8", **tiny_overrides("mixer_s8"))
    (group,) = param_groups(mixer, 0.05)
    assert group["weight_decay"] == 0.05
    assert [id(p) for p in group["params"]] == [id(p) for p in mixer.parameters()]
    with pytest.raises(ConfigError, match="decay_params must be one of all, matrices"):
        param_groups(mixer, 0.05, "norms")


def test_matrices_option_skips_norms_biases_tokens_and_embeddings():
    mixer = acn.create_model("mixer_s8", **tiny_overrides("mixer_s8"))
    decay, no_decay = (_names(mixer, g) for g in param_groups(mixer, 0.05, "matrices"))
    assert "embed.cls_token" in no_decay
    assert all(n.endswith("weight") for n in decay)
    assert not any("norm" in n or n.endswith("bias") for n in decay)
    assert "head.weight" in decay and "embed.patch.proj.weight" in decay
    assert decay | no_decay == {n for n, _ in mixer.named_parameters()}

    bert = acn.create_model("bert_tiny", **tiny_overrides("bert_tiny"))
    decay, no_decay = (_names(bert, g) for g in param_groups(bert, 0.05, "matrices"))
    assert {"embed.word.weight", "embed.position.weight"} <= no_decay
    assert not any(n.startswith("embed.") and "norm" not in n for n in decay)


def test_matrices_option_keeps_hyper_connection_width_weights_undecayed():
    """[A_m | A_r] start as [e_k | I]: decay would pull the streams' identity mixing to zero;
    LAuReL-LR's and the dynamic hyper-connections' matrices are decayed like any weight."""
    for mode in ("hyper-dynamic", "laurel-lr"):
        model = acn.create_model("mlp_s4", mode, **tiny_overrides("mlp_s4"), laurel_rank=2)
        decay, no_decay = (_names(model, g) for g in param_groups(model, 0.05, "matrices"))
        wiring = {n for n, _ in model.named_parameters() if ".wire." in n}
        static = {n for n in wiring if n.endswith("static_alpha")}
        assert static <= no_decay and bool(static) == (mode == "hyper-dynamic")
        matrices = {n for n, p in model.named_parameters() if n in wiring and p.ndim >= 2}
        assert matrices - static and matrices - static <= decay


def test_warmup_then_cosine_to_min_lr():
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.AdamW([p], lr=1.0)
    sched = WarmupCosine(opt, lr=1e-3, min_lr=1e-6, warmup_steps=4, total_steps=20)
    lrs = []
    for _ in range(20):
        lrs.append(opt.param_groups[0]["lr"])
        sched.step()
    assert lrs[:4] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])
    assert lrs[4] == pytest.approx(1e-3)
    mid = 4 + 8  # halfway through the cosine
    assert lrs[mid] == pytest.approx(1e-6 + (1e-3 - 1e-6) * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))
    assert sched.current_lr == pytest.approx(1e-6)  # after the last step


def test_schedule_state_round_trip():
    model = acn.create_model("mlp_s4", **tiny_overrides("mlp_s4"))
    opt = build_optimizer(model, OptimSection())
    a = WarmupCosine(opt, 1e-3, 1e-6, 3, 10)
    for _ in range(5):
        a.step()
    b = WarmupCosine(build_optimizer(model, OptimSection()), 1e-3, 1e-6, 3, 10)
    b.load_state_dict(a.state_dict())
    assert b.current_lr == a.current_lr
    assert b.optimizer.param_groups[0]["lr"] == a.current_lr
