"""Exit plans, per-exit logits from one pass, and branch heads as part of the model."""

from __future__ import annotations

import pytest
import torch

import acn
from _exits_helpers import tiny
from acn.errors import ConfigError
from acn.exits import Exit, exit_logits, plan_exits
from acn.models import tiny_overrides


def test_plans():
    model = tiny("mixer_s8", branches=(1, 2))
    assert plan_exits(model, "shared") == [Exit(1), Exit(2), Exit(3)]
    assert plan_exits(model, "branches") == [Exit(1, True), Exit(2, True), Exit(3)]
    assert plan_exits(model, "final") == [Exit(3)]
    assert plan_exits(model, "final", cutoff=1) == [Exit(1)]


def test_plan_errors_are_one_line():
    model = tiny("mixer_s8")
    with pytest.raises(ConfigError, match="unknown exit heads"):
        plan_exits(model, "every")
    with pytest.raises(ConfigError, match="no exit branches"):
        plan_exits(model, "branches")
    with pytest.raises(ConfigError, match="global cutoff applies"):
        plan_exits(model, "shared", cutoff=1)
    with pytest.raises(ConfigError, match=r"depth must be in 0\.\.3 for this 3-block model"):
        plan_exits(model, "final", cutoff=4)
    with pytest.raises(ConfigError, match="classification model"):
        plan_exits(tiny("bert_tiny_mlm"), "shared")


@pytest.mark.parametrize("name", ["mixer_s8", "vit_tiny_cifar", "bert_tiny", "mlp_s4"])
def test_exit_logits_match_the_model_at_every_exit(name):
    model = tiny(name, branches=(1, 2))
    x = model.example_input(5)
    with torch.no_grad():
        shared = exit_logits(model, x, plan_exits(model, "shared"))
        torch.testing.assert_close(shared, model.logits_per_depth(x)[1:])
        branched = exit_logits(model, x, plan_exits(model, "branches"))
        feats = model.features_per_depth(x)
        for i, d in enumerate((1, 2)):
            torch.testing.assert_close(branched[i], model.branches[str(d)](feats[d]))
        torch.testing.assert_close(branched[-1], model(x))


def test_exit_logits_run_each_block_once():
    model = tiny("mixer_s8", branches=(1, 2))
    calls = []
    for block in model.stack.blocks:
        block.register_forward_hook(lambda m, i, o: calls.append(m))
    with torch.no_grad():
        exit_logits(model, model.example_input(4), plan_exits(model, "branches"))
    assert len(calls) == model.depth and len(set(map(id, calls))) == model.depth


def test_branches_are_model_parameters_that_truncate_save_and_load(tmp_path):
    model = tiny("mixer_s8", branches=[2, 1])  # any order and sequence type
    assert model.config.exit_branches == (1, 2)
    plain = tiny("mixer_s8")
    hidden = 2 * model.width
    per_branch = (model.width + 1) * hidden + (hidden + 1) * model.config.num_classes
    assert model.num_params() - plain.num_params() == 2 * per_branch
    assert not any(k.startswith("branches.") for k in plain.state_dict())

    small = model.truncate(1)
    assert small.config.exit_branches == (1,) and list(small.branches) == ["1"]
    x = model.example_input(3)
    torch.testing.assert_close(small.branches["1"].state_dict(), model.branches["1"].state_dict())

    loaded = acn.load(acn.save(model, tmp_path / "m.safetensors"))
    assert loaded.config == model.config
    plan = plan_exits(model, "branches")
    with torch.no_grad():
        torch.testing.assert_close(exit_logits(loaded, x, plan), exit_logits(model, x, plan))


def test_bad_branch_depths_are_config_errors():
    with pytest.raises(ConfigError, match=r"exit branch depths \[4\] are outside 1..3"):
        tiny("mixer_s8", branches=(1, 4))
    with pytest.raises(ConfigError, match="outside"):
        tiny("mixer_s8", branches=(0,))
    with pytest.raises(ConfigError, match="list of depths"):
        tiny("mixer_s8", branches=("two",))


@pytest.mark.parametrize(
    ("name", "overrides", "per_token"),
    [
        ("mlp_s4", {}, False),  # no token axis: one prediction per sample without pooling
        ("mixer_s8", {}, False),
        ("mixer_s8", {"pool": "none"}, True),
        ("bert_tiny", {}, False),
        ("bert_tiny_mlm", {}, True),
    ],
)
def test_early_exit_needs_one_prediction_per_sample(name, overrides, per_token):
    model = acn.create_model(name, **{**tiny_overrides(name), **overrides})
    assert model.predicts_per_token is per_token
    if per_token:
        with pytest.raises(ConfigError, match="predicts per token"):
            plan_exits(model, "shared")
    else:
        assert plan_exits(model, "shared")[-1] == Exit(model.depth)
