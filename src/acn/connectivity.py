"""How a stack of blocks is wired: the one place that defines every connectivity mode.

A network is an embedding, a stack of L blocks f_1..f_L and a head. This module decides what each
block reads and what the head reads at every depth k = 0..L (x_0 is the embedding; a block's
sub-layers, e.g. attention a_i and MLP m_i, are joined as :mod:`acn.wiring` says):

==============  ====================================================  ============================
mode            block i                                               what the head reads at
                                                                      depth k
==============  ====================================================  ============================
residual        x_i = x_{i-1} + f_i(x_{i-1}) (pre-LN transformer:     x_k, the stream after k
                h = x + a_i, x_i = h + m_i)                           blocks
acn             x_i = f_i(x_{i-1}), no sub-layer residuals            x_0 + sum_{i<=k} x_i
acn-dg          as acn, but f_i sees x_{i-1}.detach()                 as acn
acn-weighted    as acn; one learned weight w_i a long connection,     x_0 + sum_{i<=k} w_i x_i
                1 at start (DenseFormer's weighting on the ACN sum)
feedforward     x_i = f_i(x_{i-1}), no residual of any kind           x_k
denseformer     residual blocks; z_i = DWA_i(x_0..x_i), weights       z_k (as residual at init)
                start at "z_i = x_i"
densenet        f_i reads P_i(concat(x_0..x_{i-1})), P_i starts as    x_k
                the plain sum of its inputs
hacn            a_i = A(LN x_{i-1}), h = x_{i-1} + a_i (the           x_0 + sum_{i<=k} (a_i + m_i)
                attention-skip variant; else g_i x_{i-1} + a_i),     (tail Mixer: x_0 +
                m_i = M(LN h), x_i = g_i h + m_i, g_i = 1 - alpha_i,  sum_{i<=k} (x_i - g_i x_{i-1}))
                one learned alpha_i a block (MLP: x_i = g_i x + m_i)
hyper           n streams H_i [.., n, D], H_0 = n copies of x_0;      sum of the n streams of H_k
                every sub-layer F reads A_m^T H, then H = A_r^T H +   (n x_0 at depth 0)
                B F(A_m^T H); learned static A_m, A_r, B (SHC); the
                paper Mixer's tail runs on every stream
hyper-dynamic   as hyper, A and B plus tanh(RMSNorm(H) W) s per       as hyper
                position (DHC)
laurel          LAuReL-RW: every residual add h + y becomes           x_k, as residual
                a y + b h, learned scalars a = b = 1 at start
laurel-lr       LAuReL-LR: h + y becomes h + y + U (V h), V: D -> r,  x_k, as residual
                U: r -> D, U = 0 at start
value-residual  residual blocks; attention of block i > 1 uses        x_k, as residual
                values (v_i + v_1) / 2 (ResFormer)
==============  ====================================================  ============================

At alpha = 0 hacn is exactly the residual net (the head's sum telescopes to the stream); at
alpha = 1 its stream is the ACN's block chain, with the long connections also carrying a_i. Every
learned wiring starts equal to its residual twin (hacn only at alpha = 0).

Blocks never know the mode; model families build them with one constructor-level wiring choice,
``block_wiring(mode, **options)`` (a :class:`~acn.wiring.Wiring`: how each sub-layer's output
joins its input and what the block reports), and tell :func:`connect` they did so
(``blocks_have_residual=True``). For plain user blocks the stack wires ``x`` and ``f(x)`` itself,
treating each block as one sub-layer: ``x + f(x)`` for the residual-type modes, the mode's join
for hacn, hyper and LAuReL. ``block_residual(mode)`` says whether a mode's blocks keep skips.

Every depth is read from ONE pass through the stack: :meth:`ConnectedStack.start`,
:meth:`ConnectedStack.step` and :meth:`ConnectedStack.read` are the only primitives; ``forward``,
``per_depth``, truncation and early exit are all loops over them. For ``acn`` the pass keeps only
the current layer output and a running sum, never a list of all layer outputs.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from .errors import ConfigError
from .wiring import BlockWiring, ConcatProjection, DepthWeightedAverage, LongWeight, Wiring

MODES: tuple[str, ...] = (
    "residual",
    "acn",
    "acn-dg",
    "acn-weighted",
    "feedforward",
    "denseformer",
    "densenet",
    "hacn",
    "hyper",
    "hyper-dynamic",
    "laurel",
    "laurel-lr",
    "value-residual",
)

# How each mode's blocks join their sub-layers (acn.wiring). DenseFormer and DenseNet-style wiring
# are built on residual blocks, as in DenseFormer and the authors' DenseNet-Mixer.
_JOIN = {
    "residual": "add",
    "acn": "replace",
    "acn-dg": "replace",
    "acn-weighted": "replace",
    "feedforward": "replace",
    "denseformer": "add",
    "densenet": "add",
    "hacn": "gated",
    "hyper": "hyper",
    "hyper-dynamic": "hyper-dynamic",
    "laurel": "laurel-rw",
    "laurel-lr": "laurel-lr",
    "value-residual": "add",
}
# Modes whose blocks keep skips around their sub-layers (every join but "replace").
_RESIDUAL_BLOCK_MODES = frozenset(m for m, j in _JOIN.items() if j != "replace")
_ACN_MODES = frozenset({"acn", "acn-dg"})
_DENSE_MODES = frozenset({"denseformer", "densenet"})
# Modes whose joins the stack applies around plain user blocks (the others: x + f(x) or nothing).
_WIRED_MODES = frozenset({"hacn", "hyper", "hyper-dynamic", "laurel", "laurel-lr"})
# Modes that need the blocks' insides (attention), so a plain user block cannot take them.
_BLOCK_ONLY_MODES = {"value-residual": "it changes the blocks' attention"}


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
    """Whether blocks built for ``mode`` keep skips around their sub-layers."""
    return check_mode(mode) in _RESIDUAL_BLOCK_MODES


def block_wiring(
    mode: str,
    *,
    alpha: float = 0.5,
    attn_skip: bool = True,
    streams: int = 4,
    rank: int = 16,
) -> Wiring:
    """The constructor-level wiring choice of blocks built for ``mode``, with its options
    (hacn: initial ``alpha`` and the attention-skip variant; hyper: ``streams``; laurel-lr:
    ``rank``; the other modes ignore them)."""
    join = _JOIN[check_mode(mode)]
    return Wiring(
        join,
        alpha=alpha,
        attn_skip=attn_skip,
        streams=streams,
        rank=rank,
        value_residual=mode == "value-residual",
    )


@dataclass
class StackState:
    """Where a pass through the stack stands after ``depth`` blocks.

    ``h`` is what the next block reads (before any DenseNet projection; for hyper-connections the
    n streams, [..., n, D]), ``out`` is what the head reads at this depth. ``history`` holds
    x_0..x_depth only for the dense modes, which need them; ``values`` the first block's attention
    values for value-residual.

    For a sequence, every tensor is per position: ``h``, ``out`` and ``history`` are token-major
    [B, T, ...], ``values`` [B, heads, T, D/heads] (as attention holds them). :meth:`cat` and
    :meth:`split` join and cut states along that token axis, so a decoder can run the first
    blocks on single tokens and the later ones on several positions at once.
    """

    h: Tensor
    out: Tensor
    depth: int = 0
    history: list[Tensor] | None = field(default=None)
    values: Tensor | None = None

    # the token axis of each per-position field
    TIME_AXIS: ClassVar[dict[str, int]] = {"h": 1, "out": 1, "history": 1, "values": 2}

    @classmethod
    def cat(cls, states: Sequence[StackState]) -> StackState:
        """States of consecutive positions, all at one depth, joined along the token axis."""
        first = states[0]
        if any(s.depth != first.depth for s in states):
            raise ConfigError("only states at one depth can be joined")
        axis = cls.TIME_AXIS
        h = torch.cat([s.h for s in states], dim=axis["h"])
        same = all(s.out is s.h for s in states)
        out = h if same else torch.cat([s.out for s in states], dim=axis["out"])
        history = None
        if first.history is not None:
            columns = zip(*(s.history for s in states))  # type: ignore[arg-type]
            history = [torch.cat(list(c), dim=axis["history"]) for c in columns]
        values = None
        if first.values is not None:
            values = torch.cat([s.values for s in states], dim=axis["values"])  # type: ignore[misc]
        return cls(h=h, out=out, depth=first.depth, history=history, values=values)

    def split(self, sizes: Sequence[int]) -> list[StackState]:
        """The inverse of :meth:`cat`: this state cut along the token axis into ``sizes``."""
        axis, sizes = self.TIME_AXIS, list(sizes)
        hs = self.h.split(sizes, dim=axis["h"])
        outs = hs if self.out is self.h else self.out.split(sizes, dim=axis["out"])
        n = len(sizes)
        hist: list[list[Tensor] | None] = [None] * n
        if self.history is not None:
            parts = [t.split(sizes, dim=axis["history"]) for t in self.history]
            hist = [[p[i] for p in parts] for i in range(n)]
        vals: Sequence[Tensor | None] = [None] * n
        if self.values is not None:
            vals = self.values.split(sizes, dim=axis["values"])
        return [
            StackState(h=hs[i], out=outs[i], depth=self.depth, history=hist[i], values=vals[i])
            for i in range(n)
        ]

    def select(self, index: Tensor) -> StackState:
        """Keep only the batch rows in ``index`` (early exit drops the samples that left)."""
        hist = None if self.history is None else [t.index_select(0, index) for t in self.history]
        h = self.h.index_select(0, index)
        out = h if self.out is self.h else self.out.index_select(0, index)
        values = None if self.values is None else self.values.index_select(0, index)
        return StackState(h=h, out=out, depth=self.depth, history=hist, values=values)

    def keep_rows(self, before: StackState, keep: Tensor) -> StackState:
        """Rows where ``keep`` [B] is False take ``before``'s state: their block was skipped
        (layer dropout, as in stochastic depth and LayerSkip). Not for the dense modes. The
        first block's attention values are kept for every row (they were computed)."""
        if self.history is not None:
            raise ConfigError("layer dropout is not defined for the dense wirings")
        mask = keep.view(-1, *([1] * (self.h.dim() - 1)))
        h = torch.where(mask, self.h, before.h)
        if self.out is self.h:
            out = h
        else:
            out = torch.where(keep.view(-1, *([1] * (self.out.dim() - 1))), self.out, before.out)
        return StackState(h=h, out=out, depth=self.depth, values=self.values)


class ConnectedStack(nn.Module):
    """A list of blocks wired by one connectivity mode; see the module docstring."""

    def __init__(
        self,
        blocks: Iterable[nn.Module],
        mode: str = "acn",
        *,
        dim: int | None = None,
        blocks_have_residual: bool = False,
        wiring: Wiring | None = None,
    ) -> None:
        super().__init__()
        self.mode = check_mode(mode)
        self.blocks = nn.ModuleList(blocks)
        if blocks_have_residual and mode not in _RESIDUAL_BLOCK_MODES:
            raise ConfigError(
                f"connectivity {mode!r} needs blocks without residual adds "
                "(build them with wiring=block_wiring(mode))"
            )
        if mode in _BLOCK_ONLY_MODES and not blocks_have_residual:
            raise ConfigError(
                f"connectivity {mode!r} needs the library's attention blocks built with "
                f"wiring=block_wiring({mode!r}): {_BLOCK_ONLY_MODES[mode]}"
            )
        self.wiring = wiring if wiring is not None else block_wiring(mode)
        if self.wiring.join != _JOIN[mode]:
            raise ConfigError(f"a {self.wiring.join!r} wiring does not fit connectivity {mode!r}")
        self.blocks_have_residual = blocks_have_residual
        # Plain user blocks get their residual from the stack where the mode needs one ...
        self.add_residual = mode in _RESIDUAL_BLOCK_MODES and mode not in _WIRED_MODES
        self.add_residual = self.add_residual and not blocks_have_residual
        # ... and the mode's join (one sub-layer: the whole block) for the learned joins.
        self.wires = None
        if mode in _WIRED_MODES and not blocks_have_residual:
            self.wires = nn.ModuleList(self.wiring.at(i).build(dim, 1) for i in range(self.depth))
        elif mode in _WIRED_MODES:
            self.wiring.check(dim)
        self.streams = self.wiring.streams if self.wiring.multi_stream else 0
        self.reports_sum = self.wiring.reports_sum
        self.value_residual = self.wiring.value_residual
        depth = len(self.blocks)
        self.dwa = (
            nn.ModuleList(DepthWeightedAverage(i + 1) for i in range(depth))
            if mode == "denseformer"
            else None
        )
        self.long = (
            nn.ModuleList(LongWeight() for _ in range(depth)) if mode == "acn-weighted" else None
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

    def wiring_modules(self) -> list[nn.Module]:
        """The modules that hold the wiring's own parameters (DWA weights, DenseNet projections,
        long-connection weights, the joins of hacn, hyper and LAuReL), wherever they live: in the
        stack or in the blocks."""
        kinds = (BlockWiring, DepthWeightedAverage, ConcatProjection, LongWeight)
        return [m for m in self.modules() if isinstance(m, kinds)]

    def no_weight_decay(self) -> set[str]:
        """Names (relative to the stack) of wiring weights that weight decay must not pull to
        zero: the hyper-connections' width weights [A_m | A_r], which start as [e_k | I] (their
        depth weights B are vectors, which decay_params="matrices" never decays)."""
        return {name for name, _ in self.named_parameters() if name.endswith(".static_alpha")}

    # -- the three primitives -------------------------------------------------------------------
    def start(self, x0: Tensor) -> StackState:
        """State at depth 0: the head reads the embedding x_0 (the sum of its n copies for
        hyper-connections)."""
        if self.streams:
            h = x0.unsqueeze(-2).expand(*x0.shape[:-1], self.streams, x0.shape[-1])
            return StackState(h=h, out=h.sum(-2), depth=0)
        history = [x0] if self.mode in _DENSE_MODES else None
        return StackState(h=x0, out=x0, depth=0, history=history)

    def step(self, state: StackState, **block_kwargs: Any) -> StackState:
        """Run block ``state.depth + 1`` and return the state after it."""
        i = state.depth
        block = self.blocks[i]
        mode = self.mode
        h = state.h
        if mode == "densenet":
            h = self.proj[i](state.history)
        elif mode == "acn-dg":
            h = h.detach()
        values = state.values
        if self.wires is not None:
            x = self.wires[i].run(h, (lambda t: block(t, **block_kwargs),))
        elif self.value_residual:
            x, values = block(h, values=values, **block_kwargs)
        else:
            x = block(h, **block_kwargs)
        if self.add_residual:
            x = h + x
        if mode in _ACN_MODES:
            return StackState(h=x, out=state.out + x, depth=i + 1)
        if self.long is not None:
            return StackState(h=x, out=state.out + self.long[i](x), depth=i + 1)
        if self.reports_sum:
            x, report = x
            return StackState(h=x, out=state.out + report, depth=i + 1)
        if self.streams:
            return StackState(h=x, out=x.sum(-2), depth=i + 1)
        if mode == "denseformer":
            history = [*state.history, x]
            z = self.dwa[i](history)
            return StackState(h=z, out=z, depth=i + 1, history=history)
        if mode == "densenet":
            return StackState(h=x, out=x, depth=i + 1, history=[*state.history, x])
        return StackState(h=x, out=x, depth=i + 1, values=values)

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

    # the per-block module lists: entry i belongs to block i + 1 (block, dense or wiring weights)
    _PER_BLOCK = ("blocks", "dwa", "proj", "wires", "long")

    def modules_after(self, depth: int) -> list[nn.Module]:
        """The modules of the blocks after the first ``depth``: what :meth:`keep_first` drops."""
        depth = check_depth(depth, self.depth)
        lists = (getattr(self, name) for name in self._PER_BLOCK)
        return [m for lst in lists if lst is not None for m in lst[depth:]]

    def keep_first(self, depth: int) -> None:
        """Drop every block after the first ``depth`` (in place), with their wiring weights."""
        depth = check_depth(depth, self.depth)
        for name in self._PER_BLOCK:
            lst = getattr(self, name)
            if lst is not None:
                setattr(self, name, lst[:depth])

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, depth={self.depth}, add_residual={self.add_residual}"


def connect(
    blocks: Iterable[nn.Module],
    mode: str = "acn",
    *,
    dim: int | None = None,
    blocks_have_residual: bool = False,
    **options: Any,
) -> ConnectedStack:
    """Wire ``blocks`` with connectivity ``mode``.

    Args:
        blocks: the layer functions f_1..f_L, applied in order. Each maps a tensor to a tensor of
            the same shape; keyword arguments given to ``forward``/``per_depth`` are passed on.
        mode: one of :data:`MODES`.
        dim: feature size (last axis); needed by ``densenet``, ``hyper-dynamic`` and
            ``laurel-lr``.
        blocks_have_residual: the blocks were built with ``wiring=block_wiring(mode)`` (as the
            library's families do for every mode but the ACN and feed-forward ones) and join their
            own sub-layers; otherwise the stack wires ``x`` and ``f(x)`` itself where the mode
            needs it.
        **options: the mode's options, as :func:`block_wiring` takes them (``alpha``,
            ``attn_skip``, ``streams``, ``rank``).

    Returns:
        A module whose ``forward(x0)`` is the wired output and ``per_depth(x0)`` the L+1
        representations at depth 0..L from one pass.
    """
    wiring = block_wiring(mode, **options)
    return ConnectedStack(
        blocks, mode, dim=dim, blocks_have_residual=blocks_have_residual, wiring=wiring
    )
