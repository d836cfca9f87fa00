"""FLOPs of a model, per op category and per depth, counted by ``torch.utils.flop_counter``.

Conventions (stated once, used everywhere):

- FLOPs = 2 x multiply-adds (MACs), as ``FlopCounterMode`` counts them.
- Only matrix products are counted: mm/addmm/bmm (every ``nn.Linear``), convolutions and attention
  (QK^T and AV of ``F.scaled_dot_product_attention``). Elementwise work (norms, GELU/ReLU, bias
  adds, residual and long-connection adds, softmax) and embedding lookups count as zero, as in every
  FLOP counter the paper's numbers are comparable with.
- On CPU, SDPA dispatches to ``aten._scaled_dot_product_flash_attention_for_cpu``, for which
  torch (2.13 included) registers no formula, so attention would silently count as zero. We
  register torch's own SDPA formula for that op (forward and backward) unless torch already has one.
- The paper's Table 6 numbers are 2 x linear-layer MACs with the attention matmuls EXCLUDED
  (:attr:`FlopCount.without_attention`); ``total`` includes them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch.utils import flop_counter as fc

from ..models.base import StackModel

_aten = torch.ops.aten


def _cpu_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return fc.sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_sdpa_backward_flop(
    grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs
) -> int:
    return fc.sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


def _missing_formulas() -> dict[Any, Callable[..., int]]:
    """Formulas for ops torch leaves uncounted; empty once torch registers its own."""
    wanted = {
        "_scaled_dot_product_flash_attention_for_cpu": _cpu_sdpa_flop,
        "_scaled_dot_product_flash_attention_for_cpu_backward": _cpu_sdpa_backward_flop,
    }
    out = {}
    for name, formula in wanted.items():
        op = getattr(_aten, name, None)
        if op is not None and op not in fc.flop_registry:
            out[op] = formula
    return out


CUSTOM_FORMULAS = _missing_formulas()


def flop_counter() -> fc.FlopCounterMode:
    """A silent ``FlopCounterMode`` that also counts CPU attention."""
    return fc.FlopCounterMode(display=False, custom_mapping=CUSTOM_FORMULAS)


def _op_name(op: Any) -> str:
    return str(op).split(".")[-1]


def _category(op_name: str) -> str:
    if "attention" in op_name:
        return "attention"
    if op_name in ("mm", "addmm", "bmm", "baddbmm", "_scaled_mm"):
        return "matmul"
    return "other"


@dataclass
class FlopCount:
    """FLOPs (2 x MACs) by aten op name."""

    by_op: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_op.values())

    @property
    def macs(self) -> int:
        return self.total // 2

    def category(self, name: str) -> int:
        """FLOPs of ``"matmul"`` (linear layers, plain matmuls), ``"attention"`` (SDPA) or
        ``"other"`` (convolutions and any other op torch has a formula for)."""
        return sum(v for op, v in self.by_op.items() if _category(op) == name)

    @property
    def attention(self) -> int:
        return self.category("attention")

    @property
    def without_attention(self) -> int:
        """The paper's Table 6 convention: everything but the attention matmuls."""
        return self.total - self.attention

    def breakdown(self) -> dict[str, int]:
        return {name: self.category(name) for name in ("matmul", "attention", "other")}

    def __add__(self, other: FlopCount) -> FlopCount:
        return FlopCount(dict(Counter(self.by_op) + Counter(other.by_op)))


class _Snapshots:
    """Reads a running counter between stages of one pass: each stage's own FLOPs."""

    def __init__(self, counter: fc.FlopCounterMode) -> None:
        self.counter = counter
        self.last: Counter[str] = Counter()

    def take(self) -> FlopCount:
        now = Counter()
        for op, n in self.counter.get_flop_counts().get("Global", {}).items():
            now[_op_name(op)] += n
        stage = now - self.last
        self.last = now
        return FlopCount(dict(stage))


def count_flops(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> FlopCount:
    """FLOPs of ``fn(*args, **kwargs)`` (any callable; run once, without autograd)."""
    counter = flop_counter()
    with torch.no_grad(), counter:
        fn(*args, **kwargs)
    return _Snapshots(counter).take()


@dataclass
class DepthFlops:
    """FLOPs of one forward pass split by stage: embedding, each block step, and the head
    (pool -> norm -> head, which a model of any depth runs exactly once)."""

    embed: FlopCount
    blocks: list[FlopCount]
    head: FlopCount

    @property
    def full(self) -> FlopCount:
        out = self.embed + self.head
        for b in self.blocks:
            out = out + b
        return out

    def cumulative(self, attention: bool = True) -> list[int]:
        """FLOPs of the model truncated at depth k, k = 0..L."""

        def value(c: FlopCount) -> int:
            return c.total if attention else c.without_attention

        running = value(self.embed) + value(self.head)
        out = [running]
        for b in self.blocks:
            running += value(b)
            out.append(running)
        return out


def model_input(model: StackModel, batch_size: int = 1, x: Tensor | None = None) -> Tensor:
    """``x``, or the model's own example input at ``batch_size``, on the model's device."""
    if x is None:
        x = model.example_input(batch_size, generator=torch.Generator().manual_seed(0))
    return x.to(next(model.parameters()).device)


def depth_flops(model: StackModel, batch_size: int = 1, x: Tensor | None = None) -> DepthFlops:
    """FLOPs of every stage of ONE forward pass, read between the stack primitives."""
    x = model_input(model, batch_size, x)
    counter = flop_counter()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            snaps = _Snapshots(counter)
            x0, kwargs = model.start(x)
            embed = snaps.take()
            state = model.stack.start(x0)
            blocks = []
            for _ in range(model.depth):
                state = model.stack.step(state, **kwargs)
                blocks.append(snaps.take())
            model.predict(model.stack.read(state))
            head = snaps.take()
    finally:
        model.train(was_training)
    return DepthFlops(embed, blocks, head)


def flops_per_depth(model: StackModel, batch_size: int = 1, attention: bool = True) -> list[int]:
    """FLOPs of ``model.truncate(k)`` for k = 0..L on its example input, from one pass.

    This is the "cumulative FLOPs up to exit k" an early-exit cost needs (add the head once per
    extra exit that is evaluated; see :attr:`DepthFlops.head`).
    """
    return depth_flops(model, batch_size).cumulative(attention)
