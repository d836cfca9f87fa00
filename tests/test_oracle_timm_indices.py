"""``forward_intermediates`` and ``prune_intermediate_layers`` against timm's documented semantics.

timm is not a dependency, so its behaviour is written down here, from its source
(github.com/huggingface/pytorch-image-models):

- ``timm/models/_features.py``, ``feature_take_indices(num_blocks, indices)``: ``None`` takes
  every block; an int ``n`` the last ``n`` blocks (``0 < n <= num_blocks``); a sequence those
  block indices, a negative one counting from the end (each ``0 <= idx < num_blocks``). It returns
  the indices in the order given and their maximum.
- ``timm/models/vision_transformer.py``, ``VisionTransformer.forward_intermediates``: "indices:
  Take last n blocks if int, all if None, select matching indices if sequence"; the loop appends
  block ``i``'s output when ``i in take_indices``, so outputs come in block order, once per block;
  ``norm`` applies the final norm to every intermediate; ``stop_early`` runs
  ``blocks[:max_index + 1]`` and the final features are then those of that depth; prefix (class)
  tokens are split off the intermediates, and ``NCHW`` reshapes the patch tokens onto their grid;
  ``intermediates_only`` returns only the list, otherwise ``(final_features, intermediates)``.
- ``VisionTransformer.prune_intermediate_layers(indices=1, prune_norm=False, prune_head=True)``
  keeps ``blocks[:max_index + 1]``, replaces the norm by an identity with ``prune_norm`` and the
  head with ``prune_head``, and returns ``take_indices``. The default ``indices=1`` (the last
  block) keeps every block.

The expected values are built from those rules (``timm_take`` below) and from the model's
per-depth outputs, never from acn's own index helper.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch

import acn
from acn.errors import ConfigError
from acn.models import tiny_overrides

DEPTH = 5
SPECS = [None, 1, 2, DEPTH, [0], [-1], [0, -1], [-1, 0], [3, 0, 3], (1, -2)]


def timm_take(num_blocks: int, indices: int | Sequence[int] | None) -> list[int]:
    """timm's ``feature_take_indices``, written from its documentation (see module docstring)."""
    if indices is None:
        indices = num_blocks
    if isinstance(indices, int):
        return [num_blocks - indices + i for i in range(indices)]
    return [num_blocks + i if i < 0 else i for i in indices]


def tiny(name: str, mode: str) -> acn.StackModel:
    torch.manual_seed(0)
    return acn.create_model(name, mode, **{**tiny_overrides(name), "depth": DEPTH}).eval()


@pytest.fixture(
    params=[("mixer_s8", "residual"), ("mixer_s8", "acn"), ("vit_tiny_cifar", "acn")], ids=str
)
def model(request) -> acn.StackModel:
    """Models that read a class token and norm every token at the end, as timm's ViT does."""
    return tiny(*request.param)


@torch.no_grad()
def test_block_i_is_what_the_head_reads_after_i_plus_1_blocks(model):
    x = model.example_input(2)
    every = model.forward_intermediates(x, intermediates_only=True, output_fmt="NLC")
    assert len(every) == DEPTH and model.num_prefix_tokens == 1
    for i, rep in enumerate(every):
        final, (normed,) = model.forward_intermediates(
            x, [i], norm=True, stop_early=True, output_fmt="NLC"
        )
        torch.testing.assert_close(model.forward_head(final), model(x, depth=i + 1))
        torch.testing.assert_close(normed, final[:, 1:])  # the class token split off
        torch.testing.assert_close(normed, model.norm(rep))


@torch.no_grad()
@pytest.mark.parametrize("indices", SPECS, ids=str)
def test_indices_select_as_timm_does(model, indices):
    x = model.example_input(2)
    every = model.forward_intermediates(x, intermediates_only=True, output_fmt="NLC")
    take = timm_take(DEPTH, indices)
    want = [every[i] for i in range(DEPTH) if i in take]  # timm's loop: block order, once each
    final, got = model.forward_intermediates(x, indices, output_fmt="NLC")
    assert len(got) == len(want)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(model.forward_head(final), model(x))  # all blocks ran
    # stop_early: blocks[:max + 1] only; the final features are those of that depth
    final, early = model.forward_intermediates(x, indices, stop_early=True, output_fmt="NLC")
    for a, b in zip(early, want, strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(model.forward_head(final), model(x, depth=max(take) + 1))
    # norm: the final norm applied to every intermediate
    normed = model.forward_intermediates(
        x, indices, norm=True, intermediates_only=True, output_fmt="NLC"
    )
    for a, b in zip(normed, want, strict=True):
        torch.testing.assert_close(a, model.norm(b))


@pytest.mark.parametrize("bad", [0, DEPTH + 1, [DEPTH], [-DEPTH - 1]], ids=str)
def test_indices_outside_the_blocks_are_refused(model, bad):
    # timm asserts 0 < n <= num_blocks and 0 <= index < num_blocks
    with pytest.raises(ConfigError, match="out of range"):
        model.forward_intermediates(model.example_input(1), bad)
    with pytest.raises(ConfigError, match="out of range"):
        model.prune_intermediate_layers(bad)
    assert model.depth == DEPTH


@torch.no_grad()
def test_prefix_tokens_are_split_off_and_nchw_is_the_patch_grid():
    model = tiny("vit_tiny_cifar", "acn")
    x = model.example_input(2)
    every = model.forward_intermediates(x, intermediates_only=True, output_fmt="NLC")
    grids = model.forward_intermediates(x, intermediates_only=True)  # NCHW, timm's default
    g, prefix = model.embed.patch.grid, model.num_prefix_tokens
    assert prefix == 1
    for tokens, grid in zip(every, grids, strict=True):
        assert tokens.shape == (2, g * g, model.width)  # the class token is not there
        hand = tokens.reshape(2, g, g, model.width).permute(0, 3, 1, 2)
        torch.testing.assert_close(grid, hand)


@torch.no_grad()
@pytest.mark.parametrize("indices", SPECS, ids=str)
def test_prune_keeps_blocks_up_to_the_last_index(model, indices):
    x = model.example_input(2)
    take = timm_take(DEPTH, indices)
    before = model.forward_intermediates(x, indices, intermediates_only=True, output_fmt="NLC")
    want_logits = model(x, depth=max(take) + 1)
    head, norm = model.head, model.norm
    assert model.prune_intermediate_layers(indices, prune_head=False) == take
    assert len(model.stack.blocks) == model.depth == max(take) + 1
    assert model.head is head and model.norm is norm
    # (after the cut, a negative index counts from the new end: ask for the blocks themselves)
    after = model.forward_intermediates(x, take, intermediates_only=True, output_fmt="NLC")
    for a, b in zip(after, before, strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(model(x), want_logits)


def test_prune_defaults_keep_every_block_and_drop_the_head(model):
    assert model.prune_intermediate_layers() == [DEPTH - 1]  # indices=1: the last block
    assert model.depth == DEPTH and isinstance(model.head, torch.nn.Identity)
    assert not isinstance(model.norm, torch.nn.Identity)
    assert model.prune_intermediate_layers(1, prune_norm=True) == [DEPTH - 1]
    assert isinstance(model.norm, torch.nn.Identity)
