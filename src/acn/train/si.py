"""Synaptic Intelligence (Zenke, Poole, Ganguli 2017): a quadratic penalty that anchors the
parameters that mattered for earlier tasks.

During a task every optimizer step adds ``-g * delta`` to a running path integral ``w`` per
parameter, where ``g`` is the gradient of the task loss (the penalty's own gradient is taken out)
and ``delta`` the step's parameter change: ``w`` is each parameter's share of the loss decrease.
At the end of the task the importance grows by ``w / (Delta^2 + xi)`` (Delta = the parameter's
total change over the task, ``xi`` a damping term) and the anchor moves to the current weights.
The penalty on later tasks is ``strength * sum(Omega * (theta - anchor)^2)``.

Use: ``loss = task_loss + si.penalty()``; ``loss.backward()``; ``si.before_step()``;
``optimizer.step()``; ``si.after_step()``; and ``si.end_task()`` after each task.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SynapticIntelligence:
    """SI state over the trainable parameters of ``model`` (see the module docstring)."""

    def __init__(self, model: nn.Module, strength: float = 1.0, damping: float = 1e-3) -> None:
        self.strength, self.damping = float(strength), float(damping)
        self.params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        zeros = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in self.params.items()}
        self.importance = {n: z.clone() for n, z in zeros.items()}  # Omega
        self.path = {n: z.clone() for n, z in zeros.items()}  # w, this task
        self.anchor = self._snapshot()  # theta at the end of the last task
        self.task_start = self._snapshot()
        self._before: dict[str, Tensor] = {}
        self._grad: dict[str, Tensor] = {}

    def _snapshot(self) -> dict[str, Tensor]:
        return {n: p.detach().float().clone() for n, p in self.params.items()}

    def penalty(self) -> Tensor:
        """strength * sum Omega (theta - anchor)^2 (a scalar in the graph)."""
        ref = next(iter(self.params.values()))
        total = ref.new_zeros((), dtype=torch.float32)
        for n, p in self.params.items():
            total = total + (self.importance[n] * (p.float() - self.anchor[n]) ** 2).sum()
        return self.strength * total

    @torch.no_grad()
    def before_step(self) -> None:
        """Call after ``backward()``, before ``optimizer.step()``: keep theta and the task-loss
        gradient (the gradient minus the penalty's, 2 strength Omega (theta - anchor))."""
        self._before = self._snapshot()
        self._grad = {}
        for n, p in self.params.items():
            if p.grad is None:
                continue
            own = 2 * self.strength * self.importance[n] * (self._before[n] - self.anchor[n])
            self._grad[n] = p.grad.detach().float() - own

    @torch.no_grad()
    def after_step(self) -> None:
        """Call after ``optimizer.step()``: add -g * delta to the path integral."""
        for n, g in self._grad.items():
            delta = self.params[n].detach().float() - self._before[n]
            self.path[n] -= g * delta

    @torch.no_grad()
    def end_task(self) -> None:
        """Consolidate: Omega += w / (Delta^2 + xi); reset w; anchor and task start move here."""
        now = self._snapshot()
        for n in self.params:
            change = now[n] - self.task_start[n]
            self.importance[n] += self.path[n] / (change**2 + self.damping)
            self.path[n].zero_()
        self.anchor = now
        self.task_start = {n: t.clone() for n, t in now.items()}
