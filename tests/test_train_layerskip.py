"""LayerSkip: dropout rates, exit scales, the rotation, and skipped blocks passing their input."""

from __future__ import annotations

import math

import pytest
import torch

import acn
from _train_helpers import tiny_config
from acn.errors import ConfigError
from acn.models import tiny_overrides
from acn.train import train
from acn.train.layerskip import LayerSkipConfig, dropout_rates, exit_scales, rotation_mask


def test_dropout_rates_grow_exponentially_from_zero_to_p_max():
    rates = dropout_rates(5, 0.1)
    assert rates[0] == 0.0 and math.isclose(rates[-1], 0.1)
    assert math.isclose(rates[2], 0.1 * (math.sqrt(2) - 1))
    assert all(a < b for a, b in zip(rates, rates[1:]))


def test_exit_scales_follow_layerskip_and_sum_to_one():
    on = [True] * 4
    raw = [0.2 * 0, 0.2 * 1, 0.2 * 3, 3 + 0.2 * 3]
    assert exit_scales(4, 0.2, on) == pytest.approx([r / sum(raw) for r in raw])
    off = exit_scales(4, 0.2, [False, True, False, True])
    assert off[0] == off[2] == 0 and math.isclose(sum(off), 1.0)


def test_rotation_enables_every_rth_exit_and_always_the_last():
    assert rotation_mask(6, 2, 0) == [True, False, True, False, True, True]
    assert rotation_mask(6, 2, 1) == [False, True, False, True, False, True]


def test_skipped_rows_pass_through_a_residual_block():
    torch.manual_seed(0)
    model = acn.create_model("mixer_s8", "residual", **tiny_overrides("mixer_s8")).eval()
    x = model.example_input(2)
    keep = torch.ones(model.depth, 2, dtype=torch.bool)
    keep[1, 0] = False  # row 0 skips block 2
    feats = model.features_per_depth(x, keep=keep)
    full = model.features_per_depth(x)
    assert torch.allclose(feats[2, 0], feats[1, 0])  # nothing changed at the skipped block
    assert torch.allclose(feats[:, 1], full[:, 1])  # the other row is untouched


def test_bad_options_are_one_line_errors():
    with pytest.raises(ConfigError, match="layerskip"):
        LayerSkipConfig.from_options({"p_max": 1.5})
    with pytest.raises(ConfigError, match="unknown loss_options"):
        LayerSkipConfig.from_options({"pmax": 0.1})


def test_layerskip_trains_and_repeats_with_the_same_seed(tmp_path):
    runs = [
        train(tiny_config(tmp_path, "--loss=layerskip", "--epochs=1", name=f"r{i}"), log=None)
        for i in range(2)
    ]
    assert runs[0].summary["accuracy_per_depth"] == runs[1].summary["accuracy_per_depth"]
    a, b = (r.model.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
