"""Exit costs (Table 7's expected FLOPs) and threshold calibration on cached logits."""

from __future__ import annotations

import math

import pytest
import torch

from _exits_helpers import tiny
from acn.compress.analytic import analytic_flops, linear
from acn.errors import ConfigError
from acn.exits import Exit, ExitCosts, ExitPolicy, calibrate, exit_costs, plan_exits, tau_grid
from acn.exits.calibration import CachedExits, outcome


def test_exit_costs_match_the_closed_form():
    model = tiny("mixer_s8", "acn", branches=(1, 2))
    a = analytic_flops(model)
    w, c = model.width, model.config.num_classes
    branch = linear(1, w, 2 * w) + linear(1, 2 * w, c)
    b = a.blocks
    got = exit_costs(model, plan_exits(model, "branches"))
    assert got.cumulative == [
        a.embed + b[0] + branch,
        a.embed + b[0] + b[1] + 2 * branch,
        a.embed + sum(b) + 2 * branch + a.head,
    ]
    assert got.reference == a.total
    shared = exit_costs(model, plan_exits(model, "shared"))
    assert shared.cumulative == [a.embed + sum(b[: j + 1]) + (j + 1) * a.head for j in range(3)]


def test_reference_is_the_full_residual_model():
    dense = tiny("mlp_s4", "densenet")  # its concat projections cost more than residual blocks
    twin = tiny("mlp_s4", "residual")
    costs = exit_costs(dense, plan_exits(dense, "final"))
    assert costs.reference == analytic_flops(twin).total < costs.cumulative[-1]
    residual = exit_costs(twin, plan_exits(twin, "final"))
    assert residual.speedup([1.0]) == 1.0


def test_expected_flops_and_speedup():
    costs = ExitCosts([Exit(1), Exit(2), Exit(3)], [10, 20, 40], reference=40)
    assert costs.expected([0.5, 0.25, 0.25]) == pytest.approx(5 + 5 + 10)
    assert costs.speedup([0.5, 0.25, 0.25]) == pytest.approx(2.0)


def toy_split() -> CachedExits:
    """Two exits, 10 classes, 4 samples, all correct at the last exit. At the first exit:
    a, b confidently right (entropy ~0), c fairly confident but wrong, d uniform."""
    first = torch.zeros(4, 10)
    first[0, 0] = first[1, 1] = 30.0
    first[2, 5] = 4.0  # entropy ~0.5 nats, predicts class 5 (label 2)
    last = torch.zeros(4, 10)
    last[torch.arange(4), torch.tensor([0, 1, 2, 3])] = 30.0
    return CachedExits(torch.stack([first, last]), torch.tensor([0, 1, 2, 3]))


TOY_COSTS = ExitCosts([Exit(1), Exit(2)], [1, 2], reference=2)


def test_calibration_takes_the_cheapest_threshold_within_the_target():
    split = toy_split()
    assert split.full_accuracy == 100.0
    strict = calibrate(ExitPolicy("entropy"), split, TOY_COSTS, target_drop=0.0)
    assert strict.validation.accuracy == 100.0
    assert strict.validation.histogram == [0.5, 0.5]  # a and b leave early, c and d do not
    assert strict.validation.speedup == pytest.approx(2 / 1.5)
    loose = calibrate(ExitPolicy("entropy"), split, TOY_COSTS, target_drop=25.0)
    assert loose.validation.histogram == [0.75, 0.25]  # c may leave (and be wrong) too
    assert loose.validation.accuracy == 75.0
    everyone = calibrate(ExitPolicy("maxprob"), split, TOY_COSTS, target_drop=100.0)
    assert everyone.validation.histogram == [1.0, 0.0]


def test_calibrated_threshold_is_the_cheapest_on_the_grid():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 200, 10, generator=gen) * torch.tensor([1.0, 2, 3, 4])[:, None, None]
    labels = torch.randint(0, 10, (200,), generator=gen)
    labels[:120] = logits[-1, :120].argmax(-1)  # the last exit is right 60%+ of the time
    split = CachedExits(logits, labels)
    costs = ExitCosts([Exit(d) for d in range(1, 5)], [1, 2, 3, 4], reference=4)
    for kind in ("entropy", "maxprob", "patience"):
        chosen = calibrate(ExitPolicy(kind), split, costs, target_drop=1.0)
        assert chosen.validation.accuracy >= split.full_accuracy - 1.0
        for tau in tau_grid(kind, 10, 4):
            other = outcome(ExitPolicy(kind, tau), split, costs)
            if other.accuracy >= split.full_accuracy - 1.0:
                assert other.expected_flops >= chosen.validation.expected_flops


@pytest.mark.parametrize("kind", ["entropy", "maxprob", "patience"])
def test_grid_runs_from_no_early_exit_to_all_at_the_first(kind):
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 50, 10, generator=gen)
    logits[0, 0] = 0.0  # a uniform prediction must leave at the first exit too
    split = CachedExits(logits, torch.zeros(50, dtype=torch.long))
    costs = ExitCosts([Exit(1), Exit(2), Exit(3)], [1, 2, 3], reference=3)
    grid = tau_grid(kind, 10, 3)
    assert outcome(ExitPolicy(kind, grid[0]), split, costs).histogram == [0.0, 0.0, 1.0]
    assert outcome(ExitPolicy(kind, grid[-1]), split, costs).histogram == [1.0, 0.0, 0.0]
    if kind == "entropy":
        assert grid[0] == 0.0 and grid[-1] > math.log(10)


def test_errors():
    with pytest.raises(ConfigError, match="target drop"):
        calibrate(ExitPolicy(), toy_split(), TOY_COSTS, target_drop=-1)
    with pytest.raises(ConfigError, match=r"need logits \[E, N, C\]"):
        CachedExits(torch.zeros(2, 3, 4), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ConfigError, match="empty split"):
        CachedExits(torch.zeros(2, 0, 4), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ConfigError, match="2 exits of logits but 3 costs"):
        outcome(ExitPolicy(), toy_split(), ExitCosts([], [1, 2, 3], 3))
    with pytest.raises(ConfigError, match="no threshold in the grid"):
        calibrate(ExitPolicy(), toy_split(), TOY_COSTS, target_drop=0.0, grid=[5.0])
