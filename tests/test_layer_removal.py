"""Block removal anywhere in the stack, and the ShortGPT / angular-distance choices of blocks."""

from __future__ import annotations

import pytest
import torch

import acn
from acn.analysis.layer_removal import angular_distances, angular_keep, shortgpt_keep
from acn.compress.remove import keep_blocks
from acn.errors import ConfigError
from acn.models import tiny_overrides


def _model(mode="residual", depth=4):
    torch.manual_seed(0)
    return acn.create_model(
        "mixer_s8", mode, **{**tiny_overrides("mixer_s8"), "depth": depth}
    ).eval()


def test_keeping_the_first_k_blocks_is_truncation():
    model = _model()
    x = model.example_input(3)
    assert torch.allclose(keep_blocks(model, [0, 1])(x), model.truncate(2)(x))


def test_a_removed_middle_block_is_skipped_by_the_stream():
    model = _model()
    x = model.example_input(3)
    small = keep_blocks(model, [0, 2, 3])
    x0, kwargs = model.start(x)
    h = x0
    for i in (0, 2, 3):  # residual blocks add their own input
        h = model.stack.blocks[i](h, **kwargs)
    assert torch.allclose(small(x), model.predict(h), atol=1e-6)
    assert small.depth == 3 and small.num_params() < model.num_params()


def test_bad_keep_lists_are_refused():
    model = _model()
    with pytest.raises(ConfigError):
        keep_blocks(model, [2, 1])
    with pytest.raises(ConfigError):
        keep_blocks(model, [0, 4])


def test_shortgpt_drops_the_lowest_influence_blocks():
    assert shortgpt_keep([0.5, 0.1, 0.3, 0.05], 2) == [0, 2]
    assert shortgpt_keep([0.2, 0.2, 0.2], 1) == [0, 1]  # a tie drops the later block
    assert shortgpt_keep([0.2, 0.1], 0) == [0, 1]


def test_angular_drops_the_closest_contiguous_run():
    d = torch.full((6, 6), 0.5)
    d[2, 4] = 0.1  # depths 2 and 4 nearly identical: blocks 3 and 4 (0-based 2, 3) add nothing
    assert angular_keep(d, 2) == [0, 1, 4]
    assert angular_keep(d, 0) == [0, 1, 2, 3, 4]


def test_angular_distance_matrix_is_symmetric_with_zero_diagonal():
    model = _model()
    x = model.example_input(4)
    d = angular_distances(model, [(x, torch.zeros(4, dtype=torch.long))])
    assert d.shape == (5, 5)
    assert torch.allclose(d, d.T, atol=1e-6)
    assert torch.allclose(torch.diagonal(d), torch.zeros(5, dtype=d.dtype), atol=1e-4)
    assert float(d.max()) <= 1.0 and float(d[0, 4]) > 0
