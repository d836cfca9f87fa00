"""Synaptic Intelligence on a toy: the penalty, the path integral and the consolidation."""

from __future__ import annotations

import torch
from torch import nn

from acn.train.si import SynapticIntelligence


def _sgd_task(model: nn.Linear, si: SynapticIntelligence, target: float, steps: int, lr: float):
    """Pull the weight towards ``target`` with loss (w - target)^2 / 2 plus the SI penalty."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = 0.5 * ((model.weight - target) ** 2).sum() + si.penalty()
        opt.zero_grad()
        loss.backward()
        si.before_step()
        opt.step()
        si.after_step()


def _toy() -> nn.Linear:
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    return model


def test_penalty_is_zero_at_the_anchor_and_grows_with_drift():
    model = _toy()
    si = SynapticIntelligence(model, strength=1.0)
    si.importance["weight"].fill_(2.0)
    assert float(si.penalty().detach()) == 0.0
    values = []
    for drift in (0.5, 1.0, 2.0):
        with torch.no_grad():
            model.weight.fill_(drift)
        values.append(float(si.penalty().detach()))
    assert values == [2.0 * 0.25, 2.0 * 1.0, 2.0 * 4.0]  # strength * Omega * drift^2


def test_path_integral_is_the_loss_decrease_and_consolidates():
    model = _toy()
    si = SynapticIntelligence(model, strength=1.0, damping=1e-3)
    _sgd_task(model, si, target=1.0, steps=100, lr=0.01)  # small steps: path integral ~ exact
    w = float(model.weight.detach())
    loss_drop = 0.5 * 1.0**2 - 0.5 * (w - 1.0) ** 2
    path = float(si.path["weight"])
    assert abs(path - loss_drop) < 0.01 * loss_drop
    si.end_task()
    assert float(si.path["weight"]) == 0.0
    expected = path / (w**2 + 1e-3)
    assert abs(float(si.importance["weight"]) - expected) < 1e-5
    assert float(si.anchor["weight"]) == w


def test_importance_accumulates_and_the_penalty_resists_a_second_task():
    free, anchored = _toy(), _toy()
    si_free = SynapticIntelligence(free, strength=0.0)
    si = SynapticIntelligence(anchored, strength=10.0)
    for model, s in ((free, si_free), (anchored, si)):
        _sgd_task(model, s, target=1.0, steps=100, lr=0.05)
        s.end_task()
    first = float(si.importance["weight"])
    for model, s in ((free, si_free), (anchored, si)):
        _sgd_task(model, s, target=-1.0, steps=100, lr=0.02)
    # the task-loss gradient (not the penalty's) drives the path integral on task 2
    assert float(si.path["weight"]) > 0
    si.end_task()
    assert float(si.importance["weight"]) > first
    assert (
        float(anchored.weight.detach()) > float(free.weight.detach()) + 0.5
    )  # stayed nearer task 1's optimum
