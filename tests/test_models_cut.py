"""``StackModel.cut_``: the one in-place cut, and the one depth check every cut goes through."""

from __future__ import annotations

import re

import pytest
import torch

import acn
from acn.compress.truncate import choose_depth
from acn.errors import ConfigError
from acn.export import export_model
from acn.models import tiny_overrides
from acn.models.exit_heads import plan_exits


def tiny(mode: str, **extra) -> acn.StackModel:
    torch.manual_seed(0)
    return acn.create_model(
        "mixer_s8", connectivity=mode, **{**tiny_overrides("mixer_s8"), "depth": 4, **extra}
    ).eval()


@pytest.mark.parametrize("mode", ["acn", "residual", "denseformer", "densenet"])
def test_cut_keeps_the_kept_objects_and_the_function(mode):
    model = tiny(mode, exit_branches=[1, 3])
    x = model.example_input(3)
    with torch.no_grad():
        before = model.logits_per_depth(x)
        branch1 = model.branches["1"](model.features_per_depth(x)[1])
    kept = {name: p for name, p in model.named_parameters() if not _beyond(name, 2)}
    assert model.cut_(2) is model
    assert model.depth == model.config.depth == 2 and model.config.exit_branches == (1,)
    # exactly the parameters a fresh depth-2 model has, and every one the same object as before
    fresh = type(model)(model.config)
    assert dict(model.named_parameters()).keys() == dict(fresh.named_parameters()).keys()
    assert all(p is kept[name] for name, p in model.named_parameters())
    with torch.no_grad():
        assert torch.equal(model.logits_per_depth(x), before[:3])
        assert torch.equal(model.branches["1"](model.features_per_depth(x)[1]), branch1)


def _beyond(name: str, k: int) -> bool:
    """Whether parameter ``name`` belongs to a block, dense-wiring weight or branch past ``k``."""
    m = re.match(r"stack\.(blocks|dwa|proj)\.(\d+)\.", name) or re.match(r"branches\.(\d+)\.", name)
    if m is None:
        return False
    index = int(m.groups()[-1])
    return index >= k if name.startswith("stack.") else index > k


def test_truncate_is_a_cut_copy():
    model = tiny("densenet", exit_branches=[1, 3])
    x = model.example_input(2)
    with torch.no_grad():
        per_depth = model.logits_per_depth(x)
    small = model.truncate(2)
    assert model.depth == 4 and len(model.branches) == 2  # the source is untouched
    assert small.depth == 2 and list(small.branches) == ["1"]
    assert not {id(p) for p in small.parameters()} & {id(p) for p in model.parameters()}
    with torch.no_grad():
        assert torch.equal(small(x), per_depth[2])
    assert list(model.truncate(3, keep_branches=False).branches) == []


def test_prune_intermediate_layers_cuts_in_place():
    model = tiny("acn", exit_branches=[2, 4])
    first = model.stack.blocks[0]
    assert model.prune_intermediate_layers([1], prune_head=False) == [1]
    assert model.depth == model.config.depth == 2 and model.stack.blocks[0] is first
    assert model.config.exit_branches == (2,)


DEPTH_ERROR = r"^depth must be in 0\.\.4 for this 4-block model, got 5$"


@pytest.mark.parametrize(
    "cut",
    [
        lambda m: m.cut_(5),
        lambda m: m.truncate(5),
        lambda m: m(m.example_input(1), depth=5),
        lambda m: choose_depth([0.0] * 5, depth=5),
        lambda m: plan_exits(m, "final", cutoff=5),
    ],
    ids=["cut_", "truncate", "forward", "compress", "exit-cutoff"],
)
def test_one_depth_check_with_one_message(cut):
    model = tiny("acn")
    with pytest.raises(ConfigError, match=DEPTH_ERROR):
        cut(model)
    assert model.depth == 4  # a refused cut changes nothing


def test_export_uses_the_same_depth_check(tmp_path):
    with pytest.raises(ConfigError, match=DEPTH_ERROR):
        export_model(tiny("acn"), tmp_path / "m.pt2", "pt2", depth=5)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("k", [-1, 2.0, True, "2"])
def test_only_whole_depths_in_range(k):
    with pytest.raises(ConfigError, match="depth must be in 0..4"):
        tiny("acn").cut_(k)
