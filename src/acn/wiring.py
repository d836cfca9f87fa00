"""The learned pieces of every wiring: how a block's sub-layers join the stream they read (the
one wiring object every block gets), and the stack-level weights of the dense and weighted modes.

A library block (:mod:`acn.blocks`) is a short chain of sub-layers F_1..F_S, each with its own
pre-norm: attention and MLP in a transformer layer, token and channel mixing in a Mixer layer, one
MLP in an MLP block. A :class:`Wiring` (made by :func:`acn.connectivity.block_wiring` from a
connectivity mode and its options) is all a block knows about connectivity. From it the block
builds one :class:`BlockWiring`, which decides, for every sub-layer k:

- what F_k reads: the stream h itself, or (hyper-connections) a learned mix of n parallel streams;
- how its output y joins the stream (the *join*):

  ============  ==========================================  =====================================
  join          stream after sub-layer k                    parameters per join
  ============  ==========================================  =====================================
  add           h + y                                       none (the residual twin)
  replace       y                                           none (the ACN / feed-forward twin)
  gated         g h + y, g = 1 - alpha (one alpha a block)  1 scalar per block (hacn)
  laurel-rw     a_k y + b_k h                               2 scalars, init 1 and 1
  laurel-lr     h + y + U_k (V_k h), V_k: D->r, U_k: r->D   2 r D, U_k = 0 at init
  hyper         B_k y + A_r^T H, F_k reads A_m^T H           n(n+2) (static); + D(n+2)+D+2 dynamic
  ============  ==========================================  =====================================

- and what the block hands the stack: its output stream, and for ``gated`` (hacn) also the sum of
  its sub-layer outputs, which the stack adds to the long connection to the head.

Every join starts as ``add`` (alpha = 0 aside), so each mode's model starts equal to, or at
alpha = 0 equals, its residual twin. ``add`` and ``replace`` run the same few operations as a
block with a plain ``residual`` flag did: no parameter, no extra tensor, no extra op.

:meth:`BlockWiring.run` also gives the direct-gradient pass of :mod:`acn.train.gradient_share`
(``direct=True``): the sub-layers read a detached copy of the stream, the joins' skip terms keep
the live one, so the gradient reaches the block input only through skip connections.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import ConfigError

SubLayer = Callable[[Tensor], Tensor]
JOINS = ("add", "replace", "gated", "laurel-rw", "laurel-lr", "hyper", "hyper-dynamic")
MAX_STREAMS = 64  # activations grow n-fold; far beyond the papers' n = 2..8


@dataclass(frozen=True)
class Wiring:
    """Constructor-level wiring choice of a block: its join and the join's options.

    ``alpha`` and ``attn_skip`` are hacn's (initial alpha; the first sub-layer of a two-sub-layer
    block adds instead of gating, the authors' attention-skip variant), ``streams`` is the n of
    hyper-connections, ``rank`` the r of LAuReL-LR, ``value_residual`` asks attention blocks for
    ResFormer's value residual, ``index`` is the block's position (hyper-connections start
    sub-layer k reading stream k mod n).
    """

    join: str = "replace"
    alpha: float = 0.5
    attn_skip: bool = True
    streams: int = 4
    rank: int = 16
    value_residual: bool = False
    index: int = 0

    def __post_init__(self) -> None:
        if self.join not in JOINS:
            raise ConfigError(f"unknown join {self.join!r}; choose one of {', '.join(JOINS)}")

    @property
    def residual(self) -> bool:
        """The sub-layers add their input (the residual twin)."""
        return self.join == "add"

    @property
    def reports_sum(self) -> bool:
        """The block returns ``(stream, sum of its sub-layer outputs)`` (hacn)."""
        return self.join == "gated"

    @property
    def multi_stream(self) -> bool:
        """The stream is n parallel streams, shape [..., n, D] (hyper-connections)."""
        return self.join in ("hyper", "hyper-dynamic")

    def at(self, index: int) -> Wiring:
        """The same wiring for block ``index``."""
        return replace(self, index=index)

    def check(self, dim: int | None) -> None:
        """One-line errors for options that cannot be built at feature size ``dim``."""
        if self.multi_stream and not (
            isinstance(self.streams, int) and 1 <= self.streams <= MAX_STREAMS
        ):
            raise ConfigError(
                f"hyper-connections need 1..{MAX_STREAMS} streams, got {self.streams!r}"
            )
        if self.join in ("laurel-lr", "hyper-dynamic") and dim is None:
            raise ConfigError(f"the {self.join} join needs the feature size: connect(..., dim=D)")
        if self.join == "laurel-lr":
            if not isinstance(self.rank, int) or self.rank < 1:
                raise ConfigError(f"laurel_rank must be a positive integer, got {self.rank!r}")
            if self.rank > dim:
                raise ConfigError(f"laurel_rank {self.rank} is larger than the width {dim}")
        if self.join == "gated" and not (
            isinstance(self.alpha, (int, float)) and 0.0 <= self.alpha <= 1.0
        ):
            raise ConfigError(f"hacn_alpha must be in [0, 1], got {self.alpha!r}")

    def build(self, dim: int | None, sublayers: int) -> BlockWiring:
        """The wiring module of one block with ``sublayers`` sub-layers of width ``dim``."""
        self.check(dim)
        return BlockWiring(self, dim, sublayers)


RESIDUAL = Wiring("add")
ACN = Wiring("replace")


def as_wiring(residual: bool | Wiring | None, wiring: Wiring | None) -> Wiring:
    """A block's wiring from its constructor arguments: ``wiring``, or the older ``residual``
    flag (True: the residual twin, False: the ACN twin), which also accepts a Wiring."""
    if wiring is not None:
        return wiring
    if isinstance(residual, Wiring):
        return residual
    if residual is None:
        raise ConfigError("a block needs its wiring (wiring=...) or residual=True/False")
    return RESIDUAL if residual else ACN


class HyperJoin(nn.Module):
    """One hyper-connection (Zhu et al. 2024, Algorithm 2): n streams H [..., n, D] around one
    sub-layer. Width connection: the sub-layer reads A_m^T H and the streams become A_r^T H;
    depth connection: B y is added to them. The static weights [A_m | A_r] (n x (1+n)) start as
    [e_{k mod n} | I] and B as ones, so all streams stay equal copies of the residual stream.

    The dynamic version (DHC) adds tanh(norm(H) W) * s to A (per position and stream) and to B,
    with W = 0 and s = 0.01 at start; norm is an RMSNorm, as in the ``hyper-connections`` package
    (the paper names a LayerNorm).
    """

    def __init__(self, streams: int, dim: int | None, layer: int, dynamic: bool) -> None:
        super().__init__()
        n = streams
        alpha = torch.zeros(n, 1 + n)
        alpha[layer % n, 0] = 1.0
        alpha[:, 1:] = torch.eye(n)
        self.static_alpha = nn.Parameter(alpha)
        self.static_beta = nn.Parameter(torch.ones(n))
        self.dynamic = dynamic
        if dynamic:
            assert dim is not None
            self.norm_weight = nn.Parameter(torch.ones(dim))
            # columns 0..n: A's dynamic part, column n + 1: B's; one matmul for both
            self.dynamic_weight = nn.Parameter(torch.zeros(dim, n + 2))
            self.dynamic_scale = nn.Parameter(torch.full((2,), 0.01))

    def read(self, h: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """(sub-layer input [..., D], (mixed streams [..., n, D], B broadcastable to them))."""
        if not self.dynamic:
            # [..., 1 + n, D]; einsum folds every position into one GEMM (a broadcast matmul
            # would run one tiny GEMM per position: 2.6x slower on the demo Mixer's shapes)
            mix = torch.einsum("sm,...sd->...md", self.static_alpha, h)
            return mix[..., 0, :], (mix[..., 1:, :], self.static_beta.unsqueeze(-1))
        normed = F.rms_norm(h, self.norm_weight.shape, self.norm_weight)
        dyn = torch.tanh(torch.matmul(normed, self.dynamic_weight))  # [..., n, n + 2]
        alpha = dyn[..., :-1] * self.dynamic_scale[0] + self.static_alpha
        beta = dyn[..., -1:] * self.dynamic_scale[1] + self.static_beta.unsqueeze(-1)
        mix = torch.matmul(alpha.transpose(-1, -2), h)
        return mix[..., 0, :], (mix[..., 1:, :], beta)

    @staticmethod
    def merge(y: Tensor, ctx: tuple[Tensor, Tensor]) -> Tensor:
        streams, beta = ctx
        return streams + beta * y.unsqueeze(-2)


class BlockWiring(nn.Module):
    """The joins of one block's sub-layers; :meth:`run` runs the block through them."""

    def __init__(self, wiring: Wiring, dim: int | None, sublayers: int) -> None:
        super().__init__()
        kind = wiring.join
        self.kind = kind
        kinds = [kind] * sublayers
        if kind == "gated" and wiring.attn_skip and sublayers > 1:
            kinds[0] = "add"
        self.kinds = tuple(kinds)
        self.plain = kind in ("add", "replace")
        self.reports_sum = wiring.reports_sum
        if kind == "gated":
            self.alpha = nn.Parameter(torch.tensor(float(wiring.alpha)))
        elif kind == "laurel-rw":
            self.rw = nn.Parameter(torch.ones(sublayers, 2))  # (a_k, b_k): a_k y + b_k h
        elif kind == "laurel-lr":
            assert dim is not None
            r = wiring.rank
            # V_k as a Linear's default init (kaiming-uniform), U_k = 0: the residual join at start
            bound = 1 / math.sqrt(dim)
            self.down = nn.Parameter(torch.empty(sublayers, r, dim).uniform_(-bound, bound))
            self.up = nn.Parameter(torch.zeros(sublayers, dim, r))
        elif wiring.multi_stream:
            dynamic = kind == "hyper-dynamic"
            self.hyper = nn.ModuleList(
                HyperJoin(wiring.streams, dim, wiring.index * sublayers + k, dynamic)
                for k in range(sublayers)
            )

    @property
    def gate(self) -> Tensor:
        """g = 1 - alpha of a gated (hacn) block."""
        return 1 - self.alpha

    def _read(self, k: int, h: Tensor) -> tuple[Tensor, Any]:
        if self.kinds[k] in ("hyper", "hyper-dynamic"):
            return self.hyper[k].read(h)
        return h, None

    def _merge(self, k: int, h: Tensor, y: Tensor, ctx: Any) -> Tensor:
        kind = self.kinds[k]
        if kind == "add":
            return h + y
        if kind == "replace":
            return y
        if kind == "gated":
            return self.gate * h + y
        if kind == "laurel-rw":
            return self.rw[k, 0] * y + self.rw[k, 1] * h
        if kind == "laurel-lr":
            return h + y + F.linear(F.linear(h, self.down[k]), self.up[k])
        return HyperJoin.merge(y, ctx)

    def run(
        self,
        x: Tensor,
        sublayers: Sequence[SubLayer],
        *,
        post: Sequence[nn.Module] | None = None,
        tail: Callable[[Tensor, Tensor], Tensor] | None = None,
        direct: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """The block's output for input ``x``: the sub-layers in order, each joined to the
        stream; ``post[k]`` (post-LN) normalises the stream after join k; ``tail(h, x)`` (the
        paper Mixer's LN(ReLU(Linear(h) + x))) ends the block, on every stream. Gated blocks
        return ``(stream, report)``: the sum of the sub-layer outputs, or with a tail, the part of
        the output the short connection does not carry, ``out - g x`` (so that alpha = 0 is the
        residual net and alpha = 1 the ACN, whose long connection carries the whole output)."""
        if self.plain and not direct:  # the residual and ACN twins: exactly their old ops
            h, add = x, self.kind == "add"
            for k, f in enumerate(sublayers):
                y = f(h)
                h = h + y if add else y
                if post is not None:
                    h = post[k](h)
            return h if tail is None else tail(h, x)
        return self._run(x, sublayers, post, tail, direct)

    def _run(self, x, sublayers, post, tail, direct) -> Tensor | tuple[Tensor, Tensor]:
        sub = x.detach() if direct else x  # the stream the sub-layers read
        live = x  # the same values; in a direct pass, the one whose skip terms keep the gradient
        total: Tensor | None = None
        for k, f in enumerate(sublayers):
            inp, ctx = self._read(k, sub)
            y = f(inp)
            if self.reports_sum:
                total = y if total is None else total + y
            nxt = self._merge(k, sub, y, ctx)
            if post is not None:
                nxt = post[k](nxt)
            if direct:
                live = self._merge(k, live, y, self._read(k, live)[1])
                if post is not None:
                    live = post[k](live)
            else:
                live = nxt
            sub = nxt
        # the tail's own Linear reads the sub-layers' stream, its "+ x" the block input
        out = live if tail is None else tail(sub, x)
        if not self.reports_sum:
            return out
        if tail is not None:
            return out, out - self.gate * x
        assert total is not None
        # alpha * 0: a gate that scales only the stream handed to the next block (the last
        # block's, in the attention-skip variant and the MLP) gets a zero gradient instead of
        # none, so DDP without find_unused_parameters and the optimizers see every parameter used
        return out, total + self.alpha * 0

    def extra_repr(self) -> str:
        return f"joins={self.kinds}"


# -- the stack-level weights of acn-weighted, denseformer and densenet (acn.connectivity) -----


class LongWeight(nn.Module):
    """The learned weight w_i of block i's long connection (acn-weighted), 1 at start: the head
    reads x_0 + sum_i w_i x_i, DenseFormer's learned weighting applied to the ACN's sum."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(()))

    def forward(self, x: Tensor) -> Tensor:
        return self.weight * x


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
