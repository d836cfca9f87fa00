"""How a stack of blocks is wired: the one place that defines every connectivity mode.

A network is an embedding, a stack of L blocks f_1..f_L and a head. This module decides what each
block reads and what the head reads at every depth k = 0..L:

==============  ================================================  ===============================
mode            block input                                       what the head reads at depth k
==============  ================================================  ===============================
residual        the residual stream (x_i = x_{i-1} + f_i(x_{i-1})) stream after k blocks
acn             x_i = f_i(x_{i-1}), no sub-layer residuals         x_0 + sum_{i<=k} x_i
acn-dg          as acn, but f_i sees x_{i-1}.detach()             as acn
feedforward     x_i = f_i(x_{i-1}), no residual of any kind        x_k
denseformer     z_i = DWA_i(x_0..x_i), weights start at "z_i=x_i"  z_k (as residual at init)
densenet        f_i reads P_i(concat(x_0..x_{i-1})), P_i starts    x_k
                as the plain sum of its inputs
==============  ================================================  ===============================

Blocks never know the mode; model families build them with one flag, ``block_residual(mode)``
(whether a block's sub-layers add their input), and tell :func:`connect` they did so. For plain
user blocks (``blocks_have_residual=False``) the stack adds ``x + f(x)`` itself where the mode
needs a residual block.

Every depth is read from ONE pass through the stack: :meth:`ConnectedStack.start`,
:meth:`ConnectedStack.step` and :meth:`ConnectedStack.read` are the only primitives; ``forward``,
``per_depth``, truncation and early exit are all loops over them. For ``acn`` the pass keeps only
the current layer output and a running sum, never a list of all layer outputs.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .errors import ConfigError

MODES: tuple[str, ...] = ("residual", "acn", "acn-dg", "feedforward", "denseformer", "densenet")

# Modes whose blocks keep their (sub-layer) residual adds. DenseFormer and DenseNet-style wiring are
# built on residual blocks, as in DenseFormer and the authors' DenseNet-Mixer.
_RESIDUAL_BLOCK_MODES = frozenset({"residual", "denseformer", "densenet"})
_ACN_MODES = frozenset({"acn", "acn-dg"})


def check_depth(k: object, depth: int, low: int = 0) -> int:
    """``k`` as an int if a stack of ``depth`` blocks can keep (or be read after) its first ``k``
    blocks, ``low <= k <= depth``; the one depth check of every cut, truncation, export and
    read-out, with one message."""
    try:
        value = operator.index(k)  # type: ignore[call-overload]
    except TypeError:
        value = None
    if value is None or isinstance(k, bool) or not low <= value <= depth:
        raise ConfigError(
            f"depth must be in {low}..{depth} for this {depth}-block model, got {k!r}"
        )
    return value


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is a known connectivity, else raise a one-line ConfigError."""
    if mode not in MODES:
        raise ConfigError(f"unknown connectivity {mode!r}; choose one of {', '.join(MODES)}")
    return mode


def block_residual(mode: str) -> bool:
    """Whether blocks built for ``mode`` keep their sub-layer residual adds."""
    return check_mode(mode) in _RESIDUAL_BLOCK_MODES


@dataclass
class StackState:
    """Where a pass through the stack stands after ``depth`` blocks.

    ``h`` is what the next block reads (before any DenseNet projection), ``out`` is what the head
    reads at this depth. ``history`` holds x_0..x_depth only for the dense modes, which need them.
    """

    h: Tensor
    out: Tensor
    depth: int = 0
    history: list[Tensor] | None = field(default=None)

    def select(self, index: Tensor) -> StackState:
        """Keep only the batch rows in ``index`` (early exit drops the samples that left)."""
        hist = None if self.history is None else [t.index_select(0, index) for t in self.history]
        h = self.h.index_select(0, index)
        out = h if self.out is self.h else self.out.index_select(0, index)
        return StackState(h=h, out=out, depth=self.depth, history=hist)

    def keep_rows(self, before: StackState, keep: Tensor) -> StackState:
        """Rows where ``keep`` [B] is False take ``before``'s state: their block was skipped
        (layer dropout, as in stochastic depth and LayerSkip). Not for the dense modes."""
        if self.history is not None:
            raise ConfigError("layer dropout is not defined for the dense wirings")
        mask = keep.view(-1, *([1] * (self.h.dim() - 1)))
        h = torch.where(mask, self.h, before.h)
        out = h if self.out is self.h else torch.where(mask, self.out, before.out)
        return StackState(h=h, out=out, depth=self.depth)


class DepthWeightedAverage(nn.Module):
    """DenseFormer's DWA after block i: a learned scalar per earlier output x_0..x_i.

    Initialised to weight 1 on x_i and 0 elsewhere, so the model starts equal to its residual twin.
    """

    def __init__(self, index: int) -> None:
        super().__init__()
        weight = torch.zeros(index + 1)
        weight[-1] = 1.0
        self.weight = nn.Parameter(weight)

    def forward(self, history: list[Tensor]) -> Tensor:
        out = history[-1] * self.weight[-1]
        for w, x in zip(self.weight[:-1], history[:-1]):
            out = out + w * x
        return out


class ConcatProjection(nn.Module):
    """DenseNet-style input of block i: bias-free projection of concat(x_0..x_{i-1}).

    Initialised to the plain sum of its inputs (a stack of identities), as in the authors'
    DenseNet-Mixer. Computed as concat(x) @ W^T: one GEMM over the concatenated inputs.
    """

    def __init__(self, num_inputs: int, dim: int) -> None:
        super().__init__()
        eye = torch.eye(dim).repeat(1, num_inputs)  # [dim, num_inputs * dim]
        self.weight = nn.Parameter(eye)

    def forward(self, history: list[Tensor]) -> Tensor:
        return torch.cat(history, dim=-1) @ self.weight.t()


class ConnectedStack(nn.Module):
    """A list of blocks wired by one connectivity mode; see the module docstring."""

    def __init__(
        self,
        blocks: Iterable[nn.Module],
        mode: str = "acn",
        *,
        dim: int | None = None,
        blocks_have_residual: bool = False,
    ) -> None:
        super().__init__()
        self.mode = check_mode(mode)
        self.blocks = nn.ModuleList(blocks)
        if blocks_have_residual and mode not in _RESIDUAL_BLOCK_MODES:
            raise ConfigError(
                f"connectivity {mode!r} needs blocks without residual adds "
                "(build them with residual=block_residual(mode))"
            )
        # Plain user blocks get their residual from the stack where the mode needs one.
        self.add_residual = mode in _RESIDUAL_BLOCK_MODES and not blocks_have_residual
        depth = len(self.blocks)
        self.dwa = (
            nn.ModuleList(DepthWeightedAverage(i + 1) for i in range(depth))
            if mode == "denseformer"
            else None
        )
        if mode == "densenet":
            if dim is None:
                raise ConfigError(
                    "connectivity 'densenet' needs the feature size: connect(..., dim=D)"
                )
            self.proj = nn.ModuleList(ConcatProjection(i + 1, dim) for i in range(depth))
        else:
            self.proj = None

    @property
    def depth(self) -> int:
        return len(self.blocks)

    # -- the three primitives -------------------------------------------------------------------
    def start(self, x0: Tensor) -> StackState:
        """State at depth 0: the head reads the embedding x_0 in every mode."""
        history = [x0] if self.mode in ("denseformer", "densenet") else None
        return StackState(h=x0, out=x0, depth=0, history=history)

    def step(self, state: StackState, **block_kwargs) -> StackState:
        """Run block ``state.depth + 1`` and return the state after it."""
        i = state.depth
        block = self.blocks[i]
        mode = self.mode
        h = state.h
        if mode == "densenet":
            h = self.proj[i](state.history)
        elif mode == "acn-dg":
            h = h.detach()
        x = block(h, **block_kwargs)
        if self.add_residual:
            x = h + x
        if mode in _ACN_MODES:
            return StackState(h=x, out=state.out + x, depth=i + 1)
        if mode == "denseformer":
            history = [*state.history, x]
            z = self.dwa[i](history)
            return StackState(h=z, out=z, depth=i + 1, history=history)
        if mode == "densenet":
            return StackState(h=x, out=x, depth=i + 1, history=[*state.history, x])
        return StackState(h=x, out=x, depth=i + 1)

    @staticmethod
    def read(state: StackState) -> Tensor:
        """What the head reads at the state's depth."""
        return state.out

    # -- loops over the primitives --------------------------------------------------------------
    def forward(self, x0: Tensor, depth: int | None = None, **block_kwargs) -> Tensor:
        """The wired output after ``depth`` blocks (default: all); later blocks are not run."""
        depth = self.depth if depth is None else check_depth(depth, self.depth)
        state = self.start(x0)
        for _ in range(depth):
            state = self.step(state, **block_kwargs)
        return self.read(state)

    def per_depth(
        self,
        x0: Tensor,
        readout: Callable[[Tensor], Tensor] | None = None,
        on_step: Callable[[StackState, StackState], None] | None = None,
        keep: Tensor | None = None,
        **block_kwargs,
    ) -> list[Tensor]:
        """The L+1 representations at depth 0..L from one pass.

        ``readout`` (e.g. cls pooling) is applied to each representation as it is produced, so a
        caller that only needs pooled features never holds L+1 full token tensors. ``on_step``
        (e.g. block influence) sees the states before and after every block during the same pass.
        ``keep`` (bool [L, B], training only) skips block i for the rows where ``keep[i]`` is False.
        """
        readout = readout or (lambda t: t)
        state = self.start(x0)
        outs = [readout(self.read(state))]
        for i in range(self.depth):
            before, state = state, self.step(state, **block_kwargs)
            if keep is not None:
                state = state.keep_rows(before, keep[i])
            if on_step is not None:
                on_step(before, state)
            outs.append(readout(self.read(state)))
        return outs

    def keep_first(self, depth: int) -> None:
        """Drop every block after the first ``depth`` (in place), with their dense-mode weights."""
        depth = check_depth(depth, self.depth)
        self.blocks = self.blocks[:depth]
        if self.dwa is not None:
            self.dwa = self.dwa[:depth]
        if self.proj is not None:
            self.proj = self.proj[:depth]

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, depth={self.depth}, add_residual={self.add_residual}"


def connect(
    blocks: Iterable[nn.Module],
    mode: str = "acn",
    *,
    dim: int | None = None,
    blocks_have_residual: bool = False,
) -> ConnectedStack:
    """Wire ``blocks`` with connectivity ``mode``.

    Args:
        blocks: the layer functions f_1..f_L, applied in order. Each maps a tensor to a tensor of
            the same shape; keyword arguments given to ``forward``/``per_depth`` are passed on.
        mode: one of :data:`MODES`.
        dim: feature size (last axis); needed only by ``densenet``.
        blocks_have_residual: the blocks already add their own input (as the library's
            families do for residual-type modes); otherwise the stack adds ``x + f(x)`` itself
            where the mode needs it.

    Returns:
        A module whose ``forward(x0)`` is the wired output and ``per_depth(x0)`` the L+1
        representations at depth 0..L from one pass.
    """
    return ConnectedStack(blocks, mode, dim=dim, blocks_have_residual=blocks_have_residual)
