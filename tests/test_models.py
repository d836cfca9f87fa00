"""Every registered preset: forward/backward, per-depth parity, truncation parity, round trip."""

from __future__ import annotations

import pytest
import torch

import acn
from acn.errors import ConfigError, DataError
from acn.models import get_preset, tiny_overrides
from acn.models.registry import FAMILIES

PRESETS = acn.list_models()
TRAINED_MODES = ["residual", "acn", "acn-dg", "feedforward"]


def tiny(name: str, mode: str, seed: int = 0) -> acn.StackModel:
    torch.manual_seed(seed)
    return acn.create_model(name, connectivity=mode, **tiny_overrides(name))


def perturb_dense_weights(model: acn.StackModel) -> None:
    """Move the wiring's own weights (DenseFormer/DenseNet, hacn, hyper, LAuReL) off their init
    so parity tests exercise them."""
    with torch.no_grad():
        for module in model.stack.wiring_modules():
            for p in module.parameters():
                p.add_(0.05 * torch.randn_like(p))


def defined(name: str, mode: str) -> bool:
    """Whether ``mode`` is defined for the family of preset ``name``."""
    return mode not in FAMILIES[get_preset(name).family].undefined_modes


@pytest.mark.parametrize("mode", acn.MODES)
@pytest.mark.parametrize("name", PRESETS)
def test_preset_forward_backward_parity_truncate_roundtrip(name, mode, tmp_path):
    if not defined(name, mode):
        with pytest.raises(ConfigError, match=f"connectivity '{mode}' is not defined for"):
            tiny(name, mode)
        return
    model = tiny(name, mode)
    perturb_dense_weights(model)
    x = model.example_input(3)
    out = model(x)
    assert torch.isfinite(out).all()
    out.float().pow(2).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)

    model.eval()
    with torch.no_grad():
        full = model(x)
        per_depth = model.logits_per_depth(x)
    assert per_depth.shape == (model.depth + 1, *full.shape)
    torch.testing.assert_close(per_depth[-1], full, rtol=1e-5, atol=1e-5)
    for k in range(model.depth + 1):
        small = model.truncate(k)
        assert small.depth == k
        with torch.no_grad():
            torch.testing.assert_close(small(x), per_depth[k], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(model(x, depth=k), per_depth[k], rtol=1e-5, atol=1e-5)

    path = acn.save(model, tmp_path / "m.safetensors")
    loaded = acn.load(path)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), full)
    assert loaded.config == model.config


@pytest.mark.parametrize("name", PRESETS)
def test_param_counts_equal_across_trained_modes(name):
    counts = {mode: tiny(name, mode).num_params() for mode in TRAINED_MODES}
    assert len(set(counts.values())) == 1, counts


def test_truncated_model_really_is_smaller():
    model = tiny("mixer_s8", "acn")
    per_block = sum(p.numel() for p in model.stack.blocks[0].parameters())
    assert model.num_params() - model.truncate(1).num_params() == (model.depth - 1) * per_block


@pytest.mark.parametrize("mode", ["acn", "residual", "densenet"])
@pytest.mark.parametrize("name", ["mixer_cifar_paper", "vit_tiny_cifar", "bert_tiny_mlm"])
def test_truncate_is_exact_in_float64_and_leaves_the_rng_alone(name, mode):
    model = tiny(name, mode).double()
    perturb_dense_weights(model)
    model.eval()
    x = model.example_input(2)
    x = x.double() if x.is_floating_point() else x
    with torch.no_grad():
        per_depth = model.logits_per_depth(x)
    rng = torch.get_rng_state()
    smalls = [model.truncate(k) for k in range(model.depth + 1)]
    assert torch.equal(torch.get_rng_state(), rng)
    for k, small in enumerate(smalls):
        assert all(p.dtype == torch.float64 for p in small.parameters())
        with torch.no_grad():
            assert (small(x) - per_depth[k]).abs().max() <= 1e-12
    # a copy, not a view: training the small model leaves the source as it was
    with torch.no_grad():
        before = model(x)
        next(smalls[-1].parameters()).add_(1.0)
        assert torch.equal(model(x), before)


def test_full_size_parameter_counts_match_the_paper():
    # the paper: ViT-B/16 86M, BERT-base 110M (vocab 32,768), CIFAR Mixer ~2.53M
    assert acn.create_model("vit_b16_224").num_params() == pytest.approx(86.6e6, rel=0.005)
    assert acn.create_model("bert_base").num_params() == pytest.approx(110.9e6, rel=0.005)
    assert acn.create_model("mixer_cifar_paper").num_params() == pytest.approx(2.53e6, rel=0.005)


def test_bert_padding_is_masked():
    model = tiny("bert_tiny", "acn").eval()
    ids = model.example_input(1)
    padded = ids.clone()
    padded[0, -3:] = model.config.pad_id
    other = padded.clone()
    # changing the embedding of pad tokens must not change the [CLS] prediction
    with torch.no_grad():
        a = model(padded)
        model.embed.word.weight[model.config.pad_id].add_(1.0)
        b = model(other)
    torch.testing.assert_close(a, b)


def test_mlm_head_is_tied_to_embeddings():
    model = tiny("bert_tiny_mlm", "acn")
    assert model.head.word[0].weight is model.embed.word.weight
    assert "head.word" not in "".join(model.state_dict())


def test_registry_errors_are_one_line():
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        acn.create_model("nope")
    with pytest.raises(ConfigError, match="unknown option"):
        acn.create_model("mlp_s4", widthh=3)
    with pytest.raises(ConfigError, match="unknown connectivity"):
        acn.create_model("mlp_s4", connectivity="skip")
    with pytest.raises(ConfigError, match=r"depth must be in 0\.\.3 for this 3-block model, got 9"):
        tiny("mlp_s4", "acn").truncate(9)


def test_wrong_input_shapes_are_data_errors():
    with pytest.raises(DataError, match="expected images of shape"):
        tiny("mixer_s8", "acn")(torch.randn(2, 3, 16, 16))
    with pytest.raises(DataError, match="features"):
        tiny("mlp_s4", "acn")(torch.randn(2, 7))
    with pytest.raises(DataError, match="max_len"):
        tiny("bert_tiny", "acn")(torch.ones(1, 50, dtype=torch.long))


def test_list_models_pattern():
    assert acn.list_models("vit_*") == ["vit_b16_224", "vit_tiny_cifar"]
    assert "mixer_cifar_paper" in acn.list_models()
