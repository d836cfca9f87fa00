"""timm's interface (forward_features/head/intermediates, prune_intermediate_layers) and BERT's
Hugging Face-style outputs: the semantics pinned on tiny models."""

from __future__ import annotations

import pytest
import torch

import acn
from acn.errors import ConfigError
from acn.models import tiny_overrides

MODES = ["residual", "acn"]


def tiny(name: str, mode: str = "acn", **overrides) -> acn.StackModel:
    torch.manual_seed(0)
    return acn.create_model(name, connectivity=mode, **{**tiny_overrides(name), **overrides}).eval()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", acn.list_models())
def test_features_then_head_is_forward(name, mode):
    model = tiny(name, mode)
    x = model.example_input(3)
    with torch.no_grad():
        feats = model.forward_features(x)
        torch.testing.assert_close(model.forward_head(feats), model(x))
        pre = model.forward_head(feats, pre_logits=True)
    assert pre.shape[-1] == model.width


@pytest.mark.parametrize(
    "name", ["mlp_s4", "mixer_s8", "mixer_std_s8", "vit_tiny_cifar", "bert_tiny"]
)
def test_acn_intermediates_are_the_partial_sums(name):
    model = tiny(name, "acn")
    x = model.example_input(2)
    with torch.no_grad():
        final, inter = model.forward_intermediates(
            x, output_fmt="NC" if name == "mlp_s4" else "NLC"
        )
        # by hand: x_i = f_i(x_{i-1}), intermediate i = x_0 + x_1 + ... + x_{i+1}
        h = model.embed(x)
        total, sums = h, []
        for block in model.stack.blocks:
            h = block(h)
            total = total + h
            sums.append(total)
    prefix = model.num_prefix_tokens
    assert len(inter) == model.depth
    for got, want in zip(inter, sums):
        want = want if want.ndim == 2 else want[:, prefix:]
        torch.testing.assert_close(got, want)
    torch.testing.assert_close(model.forward_head(final), model(x))


def test_nchw_is_the_patch_grid_without_the_cls_token():
    model = tiny("vit_tiny_cifar", "acn")
    x = model.example_input(2)
    with torch.no_grad():
        nlc = model.forward_intermediates(x, intermediates_only=True, output_fmt="NLC")
        nchw = model.forward_intermediates(x, intermediates_only=True)  # NCHW is the default
    g = model.embed.patch.grid
    assert nchw[0].shape == (2, model.width, g, g)
    assert nlc[0].shape == (2, g * g, model.width)
    torch.testing.assert_close(nchw[1].flatten(2).transpose(1, 2), nlc[1])


def test_indices_norm_and_stop_early_follow_timm():
    model = tiny("mixer_s8", "acn", depth=4)
    x = model.example_input(2)
    with torch.no_grad():
        every = model.forward_intermediates(x, intermediates_only=True, output_fmt="NLC")
        last2 = model.forward_intermediates(x, 2, intermediates_only=True, output_fmt="NLC")
        picked = model.forward_intermediates(x, [-1, 0], intermediates_only=True, output_fmt="NLC")
        normed = model.forward_intermediates(x, [1], norm=True, intermediates_only=True)
        final, early = model.forward_intermediates(x, [1], stop_early=True, output_fmt="NLC")
    assert len(every) == 4
    torch.testing.assert_close(torch.stack(last2), torch.stack(every[2:]))
    # returned in block order, whatever the order asked for
    torch.testing.assert_close(torch.stack(picked), torch.stack([every[0], every[3]]))
    assert normed[0].shape == (2, model.width, 4, 4)
    torch.testing.assert_close(early[0], every[1])
    # stopping early: the final features are those of a 2-block model (the head reads depth 2)
    torch.testing.assert_close(model.forward_head(final), model(x, depth=2))
    for bad in (0, 5, [4], [-5]):
        with pytest.raises(ConfigError, match="out of range"):
            model.forward_intermediates(x, bad)
    with pytest.raises(ConfigError, match="output_fmt"):
        model.forward_intermediates(x, output_fmt="NC")
    with pytest.raises(ConfigError, match="output_fmt"):
        tiny("bert_tiny").forward_intermediates(
            tiny("bert_tiny").example_input(1), output_fmt="NCHW"
        )


@pytest.mark.parametrize("mode", MODES)
def test_prune_intermediate_layers_keeps_what_the_indices_need(mode):
    model = tiny("vit_tiny_cifar", mode)
    x = model.example_input(2)
    with torch.no_grad():
        before = model.forward_intermediates(x, [0, 1], intermediates_only=True)
        small = model.truncate(2)
        pre_logits = small.forward_head(small.forward_features(x), pre_logits=True)
    n_before = model.num_params()
    kept = model.prune_intermediate_layers([0, 1])
    assert kept == [0, 1] and model.depth == 2 and len(model.stack.blocks) == 2
    assert model.num_params() < n_before
    with torch.no_grad():
        after = model.forward_intermediates(x, [0, 1], intermediates_only=True)
        feats = model(x)  # the head is an identity now: pooled, normed features
    torch.testing.assert_close(torch.stack(after), torch.stack(before))
    assert feats.shape == (2, model.width)
    torch.testing.assert_close(feats, pre_logits)
    assert model.prune_intermediate_layers(1, prune_norm=True) == [1]
    assert isinstance(model.norm, torch.nn.Identity) and model.depth == 2


def test_a_model_pruned_to_a_feature_extractor_is_not_saved(tmp_path):
    model = tiny("mixer_s8", "acn")
    model.prune_intermediate_layers([0], prune_head=False)
    acn.save(model, tmp_path / "kept.safetensors")  # still a classifier: saved and reloaded
    torch.testing.assert_close(
        acn.load(tmp_path / "kept.safetensors").head.weight, model.head.weight
    )
    model.prune_intermediate_layers([0])  # head replaced: no longer what its config describes
    with pytest.raises(ConfigError, match="save before pruning"):
        acn.save(model, tmp_path / "features.safetensors")
    with pytest.raises(ConfigError, match="save before pruning"):
        model.save_pretrained(tmp_path / "features")
    assert not (tmp_path / "features.safetensors").exists() and not (tmp_path / "features").exists()


def test_bert_return_dict_hidden_states_and_attention_mask():
    model = tiny("bert_tiny", "acn")
    ids = model.example_input(2)
    ids[1, -4:] = model.config.pad_id
    mask = (ids != model.config.pad_id).long()
    with torch.no_grad():
        logits = model(ids)
        out = model(ids, output_hidden_states=True, return_dict=True)
        plain = model(ids, return_dict=True)
        masked = model(ids, attention_mask=mask)
        per_depth = model.logits_per_depth(ids, attention_mask=mask)
        x0 = model.embed(ids)
    torch.testing.assert_close(out.logits, logits)
    torch.testing.assert_close(out["logits"], logits)
    torch.testing.assert_close(masked, logits)
    torch.testing.assert_close(per_depth[-1], logits)
    assert plain.hidden_states is None
    assert len(out.hidden_states) == model.depth + 1
    torch.testing.assert_close(out.hidden_states[0], x0)
    # each hidden state is what the head reads at that depth
    for k, h in enumerate(out.hidden_states):
        torch.testing.assert_close(model.predict(h), per_depth[k])
    with torch.no_grad():
        two = model(ids, 2, output_hidden_states=True, return_dict=True)
    assert len(two.hidden_states) == 3
    torch.testing.assert_close(two.logits, per_depth[2])


def test_extra_inputs_on_a_vision_model_are_an_error():
    model = tiny("mlp_s4")
    with pytest.raises(ConfigError, match="no extra inputs"):
        model(model.example_input(1), attention_mask=torch.ones(1, 3))


@pytest.mark.parametrize("mode", ["denseformer", "densenet"])
def test_prune_drops_later_branches_and_dense_weights(mode):
    model = tiny("mixer_s8", mode, exit_branches=(1, 3))
    x = model.example_input(2)
    with torch.no_grad():
        want = model.forward_intermediates(x, [0], intermediates_only=True)
    model.prune_intermediate_layers([0], prune_head=False)
    assert model.config.depth == 1 and model.config.exit_branches == (1,)
    assert list(model.branches) == ["1"]
    assert not any(".1." in n or n.endswith(".1") for n, _ in model.stack.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(
            model.forward_intermediates(x, [0], intermediates_only=True), want
        )
        torch.testing.assert_close(model(x), model.truncate(1)(x))
