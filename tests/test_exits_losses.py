"""The exit training loss: the paper's weights, every exit head in the graph, config errors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from _exits_helpers import tiny
from acn.errors import ConfigError
from acn.exits import Exit, default_weights, exit_logits, exits_loss, plan_exits
from acn.train.exit_loss import loss_weights
from acn.train.losses import get_loss


def cfg(smoothing: float = 0.1, **options):
    return SimpleNamespace(optim=SimpleNamespace(label_smoothing=smoothing), loss_options=options)


def test_paper_weights():
    model = tiny("mixer_s8", branches=(1, 2))
    # shared, L = 3: w_l = 2(l+1)/(L(L+1)) for the outputs of layers l+1 = 1, 2, 3
    assert default_weights(plan_exits(model, "shared")) == pytest.approx([1 / 6, 2 / 6, 3 / 6])
    big = tiny("mixer_s8", branches=(1, 2, 3))
    assert default_weights(plan_exits(big, "branches")) == pytest.approx([0.8, 0.6, 0.4, 1.0])
    assert default_weights(plan_exits(model, "branches")) == pytest.approx([0.8, 0.4, 1.0])
    sixteen = default_weights([Exit(d) for d in range(1, 17)])  # the paper's 16-layer Mixer
    assert sum(sixteen) == pytest.approx(1.0) and sixteen[-1] == pytest.approx(2 / 17)


@pytest.mark.parametrize(("heads", "branches"), [("shared", ()), ("branches", (1, 2))])
def test_loss_is_the_weighted_sum_of_exit_cross_entropies(heads, branches):
    model = tiny("mixer_s8", branches=branches)
    x = model.example_input(6)
    y = torch.tensor([0, 1, 2, 3, 4, 5])
    loss, logits = exits_loss(model, x, y, cfg(0.1, heads=heads))
    exits = plan_exits(model, heads)
    per_exit = exit_logits(model, x, exits)
    weights = default_weights(exits)
    manual = sum(
        w * F.cross_entropy(lj, y, label_smoothing=0.1) for w, lj in zip(weights, per_exit)
    )
    torch.testing.assert_close(loss, manual)
    torch.testing.assert_close(logits, model(x))
    custom, _ = exits_loss(model, x, y, cfg(0.0, heads=heads, weights=[0] * (len(exits) - 1) + [1]))
    torch.testing.assert_close(custom, F.cross_entropy(model(x), y))


def test_every_parameter_gets_a_gradient():
    """So DDP needs no unused-parameter search, even for a zero-weight exit."""
    model = tiny("mixer_s8", branches=(1, 2)).train()
    x, y = model.example_input(4), torch.tensor([0, 1, 2, 3])
    loss, _ = exits_loss(model, x, y, cfg(weights=[0.0, 0.5, 1.0]))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == []


def test_soft_targets_are_accepted():
    model = tiny("mixer_s8")
    soft = torch.full((3, 10), 0.1)
    loss, _ = exits_loss(model, model.example_input(3), soft, cfg())
    assert torch.isfinite(loss)


def test_registered_with_the_training_loop():
    assert get_loss("exits") is exits_loss


@pytest.mark.parametrize(
    ("branches", "options", "message"),
    [
        ((), {"heads": "branches"}, "no exit branches"),
        ((1,), {"heads": "shared"}, "train it with exit loss heads 'branches'"),
        ((), {"heads": "all"}, "must be auto, shared or branches"),
        ((), {"weights": [1.0, 2.0]}, r"need 3 exit loss weights \(for h1, h2, h3\), got 2"),
        ((), {"weights": [1.0, -1.0, 1.0]}, ">= 0 with a positive sum"),
        ((), {"weights": ["a", 1, 1]}, "must be numbers"),
        ((), {"temperature": 2}, "unknown loss_options temperature"),
        ((), {"label_smoothing": 1.5}, r"in \[0, 1\)"),
    ],
)
def test_bad_options_are_config_errors(branches, options, message):
    model = tiny("mixer_s8", branches=branches)
    with pytest.raises(ConfigError, match=message):
        exits_loss(model, model.example_input(2), torch.tensor([0, 1]), cfg(**options))


def test_weights_are_checked_against_the_exits():
    model = tiny("mixer_s8")
    assert loss_weights(plan_exits(model, "shared"), [0, 0, 2]) == [0.0, 0.0, 2.0]


def test_plain_cross_entropy_refuses_a_branch_model():
    """Its branches would stay untrained (and DDP would fail on their unused parameters)."""
    model = tiny("mixer_s8", branches=(1,))
    with pytest.raises(ConfigError, match="train it with `loss: exits`"):
        get_loss("ce")(model, model.example_input(2), torch.tensor([0, 1]), cfg())
