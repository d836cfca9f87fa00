"""The gpt family against independent oracles: Hugging Face's GPT-2 (same weights, same logits),
RoPE written as complex rotations, causality, the tied head, per-depth LM loss."""

from __future__ import annotations

import math

import pytest
import torch

import acn
from acn.causal import RotaryEmbedding
from acn.errors import ConfigError
from acn.evaluation import evaluate_per_depth
from acn.experiments.bench.lm import hf_gpt2
from acn.models import tiny_overrides


def tiny_gpt(mode: str = "acn", seed: int = 0, **overrides) -> acn.StackModel:
    torch.manual_seed(seed)
    values = {**tiny_overrides("gpt_char"), **overrides}
    return acn.create_model("gpt_char", connectivity=mode, **values).eval()


@pytest.mark.parametrize("positions", ["learned", "rotary"])
@pytest.mark.parametrize("mode", acn.MODES)
def test_a_token_sees_only_the_past(mode, positions):
    model = tiny_gpt(mode, positions=positions)
    x = model.example_input(2)
    later = x.clone()
    later[:, 9:] = (later[:, 9:] + 1) % model.config.vocab_size
    with torch.no_grad():
        a, b = model.logits_per_depth(x), model.logits_per_depth(later)
    torch.testing.assert_close(a[:, :, :9], b[:, :, :9])
    assert not torch.allclose(a[-1, :, 9:], b[-1, :, 9:])


def test_rotary_is_a_rotation_of_each_pair_by_its_position():
    """RoPE as complex numbers: pair (x_j, x_{j + d/2}) times exp(i * pos * base^(-2j/d))."""
    d, base = 8, 10000.0
    rope = RotaryEmbedding(d, max_len=32, base=base)
    q, k = (
        torch.randn(2, 3, 5, d, dtype=torch.float64),
        torch.randn(2, 3, 5, d, dtype=torch.float64),
    )
    rq, rk = rope(q, k, offset=7)
    pos = torch.arange(7, 12, dtype=torch.float64)[:, None]
    theta = pos * base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    for x, rx in ((q, rq), (k, rk)):
        z = torch.complex(x[..., : d // 2], x[..., d // 2 :]) * torch.exp(1j * theta)
        torch.testing.assert_close(rx, torch.cat([z.real, z.imag], dim=-1))
    # scores depend on relative positions only
    s1 = (rope(q, k, 0)[0][..., 1, :] * rope(q, k, 0)[1][..., 3, :]).sum(-1)
    s2 = (rope(q, k, 10)[0][..., 1, :] * rope(q, k, 10)[1][..., 3, :]).sum(-1)
    torch.testing.assert_close(s1, s2)


def test_tied_head_is_the_embedding_table_after_save_load_and_truncate(tmp_path):
    model = tiny_gpt("acn")
    assert model.head.weight is model.embed.tok.weight
    names = dict(model.named_parameters())
    assert "embed.tok.weight" in names and not any(n.startswith("head.") for n in names)
    loaded = acn.load(acn.save(model, tmp_path / "m.safetensors"))
    cut = loaded.truncate(2)
    for m in (loaded, cut):
        assert m.head.weight is m.embed.tok.weight
    untied = tiny_gpt("acn", tie_embeddings=False)
    assert untied.num_params() == model.num_params() + 16 * 50


def test_gpt_refuses_exit_branches_and_odd_heads():
    with pytest.raises(ConfigError, match="shared head"):
        tiny_gpt(exit_branches=(1,))
    with pytest.raises(ConfigError, match="not divisible"):
        tiny_gpt(num_heads=3)
    with pytest.raises(ConfigError, match="unknown positions"):
        tiny_gpt(positions="alibi")


def test_residual_gpt_is_gpt2_with_the_same_weights():
    model = tiny_gpt("residual", depth=3, dim=32, num_heads=4, vocab_size=61, max_len=24)
    with torch.no_grad():
        for p in model.parameters():  # biases and norms off their init, so they are checked too
            p.add_(0.02 * torch.randn_like(p))
    pytest.importorskip("transformers")
    hf = hf_gpt2(model).eval()  # GPT2LMHeadModel, exact GELU, our weights mapped onto its names
    x = model.example_input(3)
    with torch.no_grad():
        torch.testing.assert_close(model(x), hf(x).logits, rtol=1e-4, atol=1e-4)
        mask = torch.ones_like(x)
        mask[0, :5] = 0  # left padding: the positions of a row count its tokens only
        ours = model(x, attention_mask=mask)
        theirs = hf(x, attention_mask=mask, position_ids=(mask.cumsum(1) - 1).clamp_min(0)).logits
        torch.testing.assert_close(ours[:, 5:], theirs[:, 5:], rtol=1e-4, atol=1e-4)


def test_gpt2_small_has_gpt2s_parameter_count():
    with torch.device("meta"):
        ours = acn.create_model("gpt2_small", connectivity="residual")
    assert ours.num_params() == 124_439_808  # GPT2LMHeadModel("gpt2"), tied head counted once


@pytest.mark.parametrize("mode", ["residual", "acn", "denseformer"])
def test_lm_loss_per_depth_is_the_truncated_models_loss(mode):
    model = tiny_gpt(mode)
    x = torch.randint(0, 50, (6, 17), generator=torch.Generator().manual_seed(1))
    batches = [(x[:3, :-1], x[:3, 1:]), (x[3:, :-1], x[3:, 1:])]
    per_depth = evaluate_per_depth(model, batches).loss_per_depth
    for k in range(model.depth + 1):
        cut = evaluate_per_depth(model.truncate(k), batches).loss
        assert math.isclose(per_depth[k], cut, rel_tol=1e-5)
    with torch.no_grad():
        logits = model(x[:, :-1])
    full = torch.nn.functional.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten())
    assert math.isclose(per_depth[-1], float(full), rel_tol=1e-5)
