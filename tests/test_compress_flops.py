"""FLOP counting: CPU attention is counted, counts match the closed forms, per-depth FLOPs match
counting each truncated model, and the paper's Table 6 numbers come out under its convention."""

import pytest
import torch
import torch.nn.functional as F

import acn
from acn.compress.analytic import analytic_flops, attention_matmuls, transformer_block
from acn.compress.flops import count_flops, depth_flops, flop_counter, flops_per_depth
from acn.models.registry import tiny_overrides

TINY = [
    "mlp_s4",
    "mixer_s8",
    "mixer_std_s8",
    "mixer_cifar_paper",
    "vit_tiny_cifar",
    "bert_tiny",
    "bert_tiny_mlm",
]


@pytest.mark.parametrize("masked", [False, True])
def test_cpu_sdpa_is_counted_as_qk_and_av_matmuls(masked):
    b, h, s, d = 2, 3, 10, 8
    q, k, v = (torch.randn(b, h, s, d) for _ in range(3))
    mask = torch.ones(b, 1, 1, s, dtype=torch.bool) if masked else None
    counted = count_flops(F.scaled_dot_product_attention, q, k, v, attn_mask=mask)
    assert counted.total == 2 * 2 * b * h * s * s * d
    assert counted.attention == counted.total and counted.without_attention == 0


def test_cpu_sdpa_backward_is_counted():
    q, k, v = (torch.randn(1, 2, 6, 4, requires_grad=True) for _ in range(3))
    counter = flop_counter()
    with counter:
        F.scaled_dot_product_attention(q, k, v).sum().backward()
    # forward 2 matmuls, backward 5 (torch's own SDPA backward formula)
    assert counter.get_total_flops() == 7 * 2 * 2 * 6 * 6 * 4


@pytest.mark.parametrize("name", acn.list_models())
@pytest.mark.parametrize("mode", ["acn", "residual", "densenet"])
def test_counted_flops_match_closed_form_per_stage_tiny(name, mode):
    model = acn.create_model(name, mode, **tiny_overrides(name))
    counted, closed = depth_flops(model), analytic_flops(model)
    assert counted.embed.total == pytest.approx(closed.embed, rel=0.01)
    assert counted.head.total == pytest.approx(closed.head, rel=0.01)
    assert [b.total for b in counted.blocks] == pytest.approx(closed.blocks, rel=0.01)


@pytest.mark.parametrize(
    "name",
    ["mlp_s8", "mixer_s8", "mixer_std_s8", "mixer_cifar_paper", "vit_tiny_cifar", "bert_tiny"],
)
def test_counted_flops_match_closed_form_real_size(name):
    model = acn.create_model(name, "acn")
    counted, closed = depth_flops(model), analytic_flops(model)
    assert counted.full.total == pytest.approx(closed.total, rel=0.01)
    assert counted.blocks[0].total == pytest.approx(closed.blocks[0], rel=0.01)
    no_attn = analytic_flops(model, with_attention=False)
    assert counted.full.without_attention == pytest.approx(no_attn.total, rel=0.01)


def test_attention_share_of_a_transformer_block():
    model = acn.create_model("vit_tiny_cifar", "acn")
    block = depth_flops(model).blocks[0]
    tokens, dim = (32 // 4) ** 2 + 1, 96
    assert block.attention == attention_matmuls(tokens, dim) > 0
    assert block.without_attention == transformer_block(tokens, dim, 4 * dim, with_attention=False)


@pytest.mark.parametrize("name", TINY)
@pytest.mark.parametrize("mode", ["acn", "residual", "denseformer", "densenet"])
def test_flops_per_depth_equals_counting_each_truncated_model(name, mode):
    model = acn.create_model(name, mode, **tiny_overrides(name))
    x = model.example_input(2, generator=torch.Generator().manual_seed(0))
    per_depth = depth_flops(model, x=x).cumulative()
    assert len(per_depth) == model.depth + 1
    for k in range(model.depth + 1):
        assert per_depth[k] == count_flops(model.truncate(k), x).total
    assert per_depth[-1] == count_flops(model, x).total
    assert flops_per_depth(model, batch_size=2) == per_depth


def test_flops_scale_with_batch():
    model = acn.create_model("mixer_s8", "acn", **tiny_overrides("mixer_s8"))
    assert flops_per_depth(model, 3) == [3 * f for f in flops_per_depth(model, 1)]


def test_padding_mask_keeps_attention_counted():
    model = acn.create_model("bert_tiny", "acn", **tiny_overrides("bert_tiny"))
    x = model.example_input(2)
    x[:, -3:] = model.config.pad_id  # padded batch: blocks get a boolean SDPA mask
    c = model.config
    expected = 2 * c.depth * attention_matmuls(c.max_len, c.dim)
    assert depth_flops(model, x=x).full.attention == expected


@pytest.mark.parametrize("name,paper_gflops", [("vit_b16_224", 33.7), ("bert_base", 21.72)])
def test_paper_table6_gflops_without_attention(name, paper_gflops):
    """Table 6 = 2 x linear-layer MACs, attention matmuls excluded (197 / 128 tokens)."""
    model = acn.create_model(name, "residual")
    counted = depth_flops(model).full
    assert counted.without_attention / 1e9 == pytest.approx(paper_gflops, rel=0.01)
    assert counted.total > counted.without_attention  # attention is counted, just not in Table 6
    # AC-BERT cut to 3 of 12 layers: Table 6 gives 5.44 GFLOPs
    if name == "bert_base":
        cut = depth_flops(model.truncate(3)).full.without_attention / 1e9
        assert cut == pytest.approx(5.44, rel=0.01)
