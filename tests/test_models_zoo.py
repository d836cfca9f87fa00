"""The connectivity modes in the model families: each against its equation written out by hand
from the block's own sub-modules, its residual (or ACN) twin with the same weights where the
mode reduces to one, and the options recorded in model files."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_model

import acn
from acn.compress.remove import keep_blocks
from acn.errors import ConfigError
from acn.exits import ExitPolicy, early_exit_predict, plan_exits
from acn.models import tiny_overrides
from acn.serialization import load
from acn.train.gradient_share import direct_gradient_share

PRE_LN = ["mlp_s4", "mixer_s8", "mixer_std_s8", "vit_tiny_cifar"]  # pre-LN blocks (+ tail Mixer)
EVERY = [*PRE_LN, "bert_tiny"]


def tiny(name: str, mode: str, **options) -> acn.StackModel:
    torch.manual_seed(0)
    return acn.create_model(name, mode, **{**tiny_overrides(name), **options}).double().eval()


def with_weights_of(model: acn.StackModel, source: acn.StackModel) -> acn.StackModel:
    """``model`` with every parameter it shares with ``source`` copied; only the wiring's own
    parameters (``...wire...``, ``stack.long...``) keep their values."""
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    assert not unexpected
    assert all(".wire." in k or k.startswith("stack.long.") for k in missing), missing
    return model


def perturb_wiring(model: acn.StackModel, scale: float = 0.3) -> None:
    with torch.no_grad():
        for module in model.stack.wiring_modules():
            for p in module.parameters():
                p.add_(scale * torch.randn_like(p))


def inputs(model: acn.StackModel):
    x = model.example_input(3, generator=torch.Generator().manual_seed(1))
    return x.double() if x.is_floating_point() else x


def per_depth(model: acn.StackModel) -> torch.Tensor:
    with torch.no_grad():
        return model.logits_per_depth(inputs(model))


# -- hacn -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("attn_skip", [True, False])
@pytest.mark.parametrize("name", PRE_LN)
def test_hacn_at_alpha_zero_is_its_residual_twin(name, attn_skip):
    residual = tiny(name, "residual")
    hacn = with_weights_of(tiny(name, "hacn", hacn_alpha=0.0, hacn_attn_skip=attn_skip), residual)
    torch.testing.assert_close(per_depth(hacn), per_depth(residual), rtol=1e-12, atol=1e-12)
    # and off alpha = 0 it is not (the test can fail)
    other = with_weights_of(tiny(name, "hacn", hacn_alpha=0.4, hacn_attn_skip=attn_skip), residual)
    assert (per_depth(other)[1:] - per_depth(residual)[1:]).abs().max() > 1e-3


@pytest.mark.parametrize("name", ["mlp_s4", "mixer_s8"])
def test_hacn_at_alpha_one_without_attention_skip_is_the_acn_twin(name):
    """MLP blocks and the tail Mixer carry their whole output on the long connection at g = 0."""
    acn_twin = tiny(name, "acn")
    hacn = with_weights_of(tiny(name, "hacn", hacn_alpha=1.0, hacn_attn_skip=False), acn_twin)
    torch.testing.assert_close(per_depth(hacn), per_depth(acn_twin), rtol=1e-12, atol=1e-12)


def hacn_by_hand(model: acn.StackModel, x: torch.Tensor, attn_skip: bool) -> torch.Tensor:
    """The head's input at full depth, from the equations: a = F1(LN h), mid = h + a (or g h + a),
    m = F2(LN mid), h' = g mid + m, head reads x_0 + sum (a + m); a tail Mixer's block output is
    LN(ReLU(Linear(g mid + m) + h)) and it adds (output - g h)."""
    h = out = model.embed(x)
    for b in model.stack.blocks:
        g = 1 - b.wire.alpha
        if hasattr(b, "attn"):
            f1, f2 = (lambda t, b=b: b.attn(b.norm1(t))), (lambda t, b=b: b.mlp(b.norm2(t)))
        elif hasattr(b, "token_mlp"):
            f1 = lambda t, b=b: b.token_mlp(b.norm1(t))  # noqa: E731
            f2 = lambda t, b=b: b.channel_mlp(b.norm2(t))  # noqa: E731
        else:  # MLP block: one sub-layer
            m = b.mlp(b.norm(h))
            h, out = g * h + m, out + m
            continue
        a = f1(h)
        mid = h + a if attn_skip else g * h + a
        m = f2(mid)
        new = g * mid + m
        if getattr(b, "tail_fc", None) is not None:
            new = b.tail_norm(F.relu(b.tail_fc(new) + h))
            out = out + new - g * h
        else:
            out = out + a + m
        h = new
    return out


@pytest.mark.parametrize("attn_skip", [True, False])
@pytest.mark.parametrize("name", PRE_LN)
def test_hacn_is_its_equation(name, attn_skip):
    model = tiny(name, "hacn", hacn_attn_skip=attn_skip)
    perturb_wiring(model)
    x = inputs(model)
    with torch.no_grad():
        torch.testing.assert_close(
            model.stack(model.embed(x)), hacn_by_hand(model, x, attn_skip), rtol=1e-12, atol=1e-12
        )


def test_hacn_alphas_are_learned_and_every_one_gets_a_gradient():
    model = tiny("vit_tiny_cifar", "hacn")
    model(inputs(model)).pow(2).mean().backward()
    alphas = [b.wire.alpha for b in model.stack.blocks]
    assert all(a.requires_grad and a.grad is not None for a in alphas)
    assert all(a.grad != 0 for a in alphas[:-1])  # the last block's gate scales an unread stream


def test_hacn_is_refused_for_post_ln_bert():
    with pytest.raises(ConfigError, match="'hacn' is not defined for bert models: post-LN"):
        tiny("bert_tiny", "hacn")


# -- LAuReL -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["laurel", "laurel-lr"])
@pytest.mark.parametrize("name", EVERY)
def test_laurel_starts_as_its_residual_twin(name, mode):
    residual = tiny(name, "residual")
    model = with_weights_of(tiny(name, mode, laurel_rank=3), residual)
    torch.testing.assert_close(per_depth(model), per_depth(residual), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["mlp_s4", "bert_tiny"])
def test_laurel_lr_is_its_equation(name):
    """Every residual add h + y becomes h + y + U(V h): pre-LN MLP blocks and post-LN BERT."""
    model = tiny(name, "laurel-lr", laurel_rank=3)
    perturb_wiring(model)
    x = inputs(model)

    def lr(w, k, h):
        return h @ w.down[k].t() @ w.up[k].t()

    with torch.no_grad():
        x0, kwargs = model.start(x)
        h = x0
        for b in model.stack.blocks:
            w = b.wire
            if name == "mlp_s4":
                h = h + b.mlp(b.norm(h)) + lr(w, 0, h)
            else:
                mid = b.norm1(h + b.attn(h, kwargs["attn_mask"]) + lr(w, 0, h))
                h = b.norm2(mid + b.mlp(mid) + lr(w, 1, mid))
        torch.testing.assert_close(model.stack(x0, **kwargs), h, rtol=1e-12, atol=1e-12)
        assert w.up.abs().min() > 0  # the low-rank term really was on


def test_laurel_rw_is_its_equation():
    model = tiny("mixer_std_s8", "laurel")
    perturb_wiring(model)
    x = inputs(model)
    with torch.no_grad():
        h = x0 = model.embed(x)
        for b in model.stack.blocks:
            (a1, b1), (a2, b2) = b.wire.rw.tolist()
            mid = a1 * b.token_mlp(b.norm1(h)) + b1 * h
            h = a2 * b.channel_mlp(b.norm2(mid)) + b2 * mid
        torch.testing.assert_close(model.stack(x0), h, rtol=1e-12, atol=1e-12)


# -- hyper-connections ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hyper", "hyper-dynamic"])
@pytest.mark.parametrize("name", PRE_LN)
def test_hyper_starts_as_n_copies_of_the_residual_stream(name, mode):
    residual = tiny(name, "residual")
    for n in (1, 4):
        model = with_weights_of(tiny(name, mode, hyper_streams=n), residual)
        x = inputs(model)
        with torch.no_grad():
            x0 = model.embed(x)
            for got, want in zip(model.stack.per_depth(x0), residual.stack.per_depth(x0)):
                torch.testing.assert_close(got, n * want, rtol=1e-12, atol=1e-12)
        if n == 1:  # one stream: the very residual model, head included
            torch.testing.assert_close(per_depth(model), per_depth(residual), rtol=0, atol=1e-12)


def test_hyper_is_refused_for_post_ln_bert():
    with pytest.raises(ConfigError, match="'hyper' is not defined for bert models"):
        tiny("bert_tiny", "hyper")


# -- value residual ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vit_tiny_cifar", "bert_tiny"])
def test_value_residual_is_its_equation(name):
    """Block 1 is the residual block; every later block attends over (v_i + v_1) / 2."""
    model = tiny(name, "value-residual")
    residual = tiny(name, "residual")
    x = inputs(model)

    def attention(att, h, mask, v1):
        b, t, d = h.shape
        q, k, v = att.qkv(h).view(b, t, 3, att.num_heads, d // att.num_heads).unbind(2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / (d // att.num_heads) ** 0.5
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        mixed = v if v1 is None else (v + v1) / 2
        y = scores.softmax(-1) @ mixed
        return att.proj(y.transpose(1, 2).reshape(b, t, d)), v

    with torch.no_grad():
        x0, kwargs = model.start(x)
        mask = kwargs.get("attn_mask")
        h, v1 = x0, None
        for b in model.stack.blocks:
            pre = b.norm_first
            a, v = attention(b.attn, b.norm1(h) if pre else h, mask, v1)
            v1 = v if v1 is None else v1
            if pre:
                mid = h + a
                h = mid + b.mlp(b.norm2(mid))
            else:
                mid = b.norm1(h + a)
                h = b.norm2(mid + b.mlp(mid))
        torch.testing.assert_close(model.stack(x0, **kwargs), h, rtol=1e-10, atol=1e-10)
        reps, res = model.stack.per_depth(x0, **kwargs), residual.stack.per_depth(x0, **kwargs)
    torch.testing.assert_close(reps[1], res[1], rtol=1e-12, atol=1e-12)  # block 1: no residual yet
    assert (reps[2] - res[2]).abs().max() > 1e-4


@pytest.mark.parametrize("name", ["mlp_s4", "mixer_s8"])
def test_value_residual_is_refused_without_attention(name):
    with pytest.raises(ConfigError, match="'value-residual' is not defined for"):
        tiny(name, "value-residual")


# -- options: bad values, model files ----------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "options", "message"),
    [
        ("hyper", {"hyper_streams": 0}, "hyper_streams must be in 1.."),
        ("hyper-dynamic", {"hyper_streams": 65}, "need 1..64 streams, got 65"),
        ("laurel-lr", {"laurel_rank": 17}, "laurel_rank 17 is larger than the width 16"),
        ("hacn", {"hacn_alpha": -0.5}, r"hacn_alpha must be in \[0, 1\]"),
        ("hacn", {"hacn_alpha": float("nan")}, r"hacn_alpha must be in \[0, 1\]"),
        ("hacn", {"hacn_attn_skip": "yes"}, "hacn_attn_skip must be true or false"),
    ],
)
def test_bad_mode_options_are_one_line_config_errors(mode, options, message):
    with pytest.raises(ConfigError, match=message) as err:
        acn.create_model("mlp_s4", mode, **tiny_overrides("mlp_s4"), **options)
    assert "\n" not in str(err.value)


def test_mode_options_are_recorded_in_model_files_and_pretrained_dirs(tmp_path):
    options = {"hyper_streams": 2, "laurel_rank": 3, "hacn_alpha": 0.25, "hacn_attn_skip": False}
    for mode in ("hacn", "hyper-dynamic", "laurel-lr"):
        model = tiny("vit_tiny_cifar", mode, **options).float()
        perturb_wiring(model)
        x = inputs(model).float()
        path = acn.save(model, tmp_path / f"{mode}.safetensors")
        model.save_pretrained(tmp_path / mode)
        config = json.loads((tmp_path / mode / "config.json").read_text())
        assert {k: config[k] for k in options} == options and config["connectivity"] == mode
        for loaded in (load(path), acn.from_pretrained(tmp_path / mode)):
            assert loaded.config == model.config
            with torch.no_grad():
                torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_model_files_written_before_the_options_existed_load_with_their_defaults(tmp_path):
    """A file whose config has no mode options (as every file before them) loads unchanged."""
    model = tiny("mixer_s8", "acn").float()
    config = {
        k: v
        for k, v in json.loads(json.dumps(model.config.__dict__)).items()
        if k not in ("hacn_alpha", "hacn_attn_skip", "hyper_streams", "laurel_rank")
    }
    meta = {"acn_format": "1", "family": "mixer", "config": json.dumps(config)}
    path = tmp_path / "old.safetensors"
    save_model(model, str(path), metadata=meta)
    loaded = load(path)
    assert loaded.config == model.config
    x = inputs(model).float()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["mlp_s4", "vit_tiny_cifar"])
def test_hacn_direct_gradient_is_the_long_connection_alone(name):
    """hacn's head never reads the stream, so a block's direct path is its own report: the DG
    share equals that of a pass in which every block reads a fully detached input."""
    model = tiny(name, "hacn")
    perturb_wiring(model)
    x, y = inputs(model), torch.randint(0, model.config.num_classes, (3,))

    def norms(detach: bool) -> list[float]:
        hooks = [
            b.register_forward_pre_hook(lambda m, args: (args[0].detach(), *args[1:]))
            for b in model.stack.blocks
            if detach
        ]
        loss = F.cross_entropy(model(x), y)
        for h in hooks:
            h.remove()
        out = []
        for b in model.stack.blocks:
            grads = torch.autograd.grad(loss, list(b.parameters()), retain_graph=True)
            out.append(float(torch.cat([g.flatten() for g in grads]).norm()))
        return out

    want = [d / f for d, f in zip(norms(True), norms(False))]
    assert direct_gradient_share(model, x, y) == pytest.approx(want, rel=1e-6)  # float32 loss
    assert min(want[:-1]) < 0.99


# -- the per-depth machinery: early exit and layer dropout --------------------------------------

ZOO = [
    ("vit_tiny_cifar", "hacn"),
    ("mixer_s8", "hyper"),
    ("vit_tiny_cifar", "hyper-dynamic"),
    ("mlp_s4", "laurel"),
    ("mixer_std_s8", "laurel-lr"),
    ("vit_tiny_cifar", "value-residual"),
]


@pytest.mark.parametrize(("name", "mode"), ZOO)
def test_early_exit_predicts_what_each_row_s_exit_depth_predicts(name, mode):
    model = tiny(name, mode)
    perturb_wiring(model, 0.1)
    x = model.example_input(16, generator=torch.Generator().manual_seed(2)).double()
    with torch.no_grad():
        per_depth = model.logits_per_depth(x).argmax(-1)  # [L+1, B]
        taus = model.logits_per_depth(x).softmax(-1).amax(-1)[1:].flatten().sort().values
        # a threshold that lets some rows leave early and keeps others running
        result = early_exit_predict(
            model,
            x,
            ExitPolicy("maxprob", float(taus[len(taus) // 2])),
            plan_exits(model, "shared"),
        )
    depths = result.exit_index + 1
    assert len(set(depths.tolist())) > 1
    assert torch.equal(result.prediction, per_depth[depths, torch.arange(16)])


@pytest.mark.parametrize(("name", "mode"), [z for z in ZOO if z[1] != "value-residual"])
def test_layer_dropout_of_a_block_is_the_model_without_it(name, mode):
    """Rows whose block i is dropped get the features of the model with block i removed."""
    model = tiny(name, mode)
    perturb_wiring(model, 0.1)
    x = inputs(model)
    keep = torch.ones(model.depth, 3, dtype=torch.bool)
    keep[1, :2] = False
    with torch.no_grad():
        dropped = model.features_per_depth(x, keep=keep)[-1]
        without = keep_blocks(model, [0, *range(2, model.depth)]).features_per_depth(x)[-1]
        full = model.features_per_depth(x)[-1]
    torch.testing.assert_close(dropped[:2], without[:2], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(dropped[2:], full[2:], rtol=1e-12, atol=1e-12)
    assert (dropped[:2] - full[:2]).abs().max() > 1e-3


def test_weighted_acn_is_its_equation_and_starts_as_the_acn_twin():
    acn_twin = tiny("mixer_s8", "acn")
    model = with_weights_of(tiny("mixer_s8", "acn-weighted"), acn_twin)
    torch.testing.assert_close(per_depth(model), per_depth(acn_twin), rtol=1e-12, atol=1e-12)
    perturb_wiring(model)
    x = inputs(model)
    with torch.no_grad():
        h = out = model.embed(x)
        for b, long in zip(model.stack.blocks, model.stack.long):
            h = b(h)
            out = out + long.weight * h
        torch.testing.assert_close(model.stack(model.embed(x)), out, rtol=1e-12, atol=1e-12)
        # removing blocks keeps each kept block's own long-connection weight
        small = keep_blocks(model, [0, 2])
        assert [m.weight.item() for m in small.stack.long] == [
            model.stack.long[i].weight.item() for i in (0, 2)
        ]
