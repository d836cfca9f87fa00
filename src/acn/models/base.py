"""The shape every model family shares: embed -> connected stack -> pool -> norm -> head.

Families only say how to embed an input, how to build block i, and what the head is. Everything
about depth lives here and in :mod:`acn.connectivity`: the full forward, the L+1 per-depth
predictions from one pass, and truncation to a standalone k-block model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..connectivity import ConnectedStack, StackState, block_residual, check_mode, connect
from ..errors import ConfigError

POOLS = ("cls", "mean", "none")
OnStep = Callable[[StackState, StackState], None]


@dataclass
class ModelConfig:
    """Fields every family has. Families subclass this with their own sizes."""

    name: str = ""
    depth: int = 4
    connectivity: str = "acn"
    num_classes: int = 10
    # Early-exit branches (BranchyNet-style, paper App. H): the depths 1..L that get their own
    # classifier Linear(h, m*h)-GELU-Linear(m*h, C) on the pooled, normed feature at that depth.
    exit_branches: tuple[int, ...] = ()
    branch_hidden_mult: int = 2


def _normalise_branches(config: ModelConfig) -> ModelConfig:
    """``config`` with its branch depths as a sorted tuple (JSON gives lists), checked."""
    try:
        branches = tuple(sorted({int(d) for d in config.exit_branches}))
    except (TypeError, ValueError):
        raise ConfigError(
            f"exit_branches must be a list of depths, got {config.exit_branches!r}"
        ) from None
    bad = [d for d in branches if not 1 <= d <= config.depth]
    if bad:
        raise ConfigError(f"exit branch depths {bad} are outside 1..{config.depth}")
    if branches and config.branch_hidden_mult < 1:
        raise ConfigError(f"branch_hidden_mult must be >= 1, got {config.branch_hidden_mult}")
    if branches == config.exit_branches:
        return config
    return dataclasses.replace(config, exit_branches=branches)


class StackModel(nn.Module):
    """Base class of all model families; see the module docstring.

    Public interface: ``depth``, ``forward(x)``, ``logits_per_depth(x)``, ``truncate(k)``,
    ``example_input(batch_size)``, ``config`` (a dataclass) and ``family``.
    """

    family: ClassVar[str] = ""
    config_class: ClassVar[type[ModelConfig]] = ModelConfig

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        check_mode(config.connectivity)
        if config.depth < 0:
            raise ConfigError(f"depth must be >= 0, got {config.depth}")
        config = _normalise_branches(config)
        self.config = config
        residual = block_residual(config.connectivity)
        self.embed = self.build_embed()
        blocks = [self.build_block(i, residual) for i in range(config.depth)]
        self.stack: ConnectedStack = connect(
            blocks, config.connectivity, dim=self.width, blocks_have_residual=residual
        )
        self.norm = self.build_norm()
        self.head = self.build_head()
        self.branches = self.build_branches()
        self.init_weights()

    # -- what a family provides ------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Feature size of the stream (last axis)."""
        return self.config.dim  # type: ignore[attr-defined]

    @property
    def pool_mode(self) -> str:
        return getattr(self.config, "pool", "none")

    def build_embed(self) -> nn.Module:
        raise NotImplementedError

    def build_block(self, index: int, residual: bool) -> nn.Module:
        raise NotImplementedError

    def build_norm(self) -> nn.Module:
        return nn.LayerNorm(self.width)

    def build_head(self) -> nn.Module:
        return nn.Linear(self.width, self.config.num_classes)

    def build_branches(self) -> nn.ModuleDict:
        """One exit classifier per depth in ``config.exit_branches``, keyed by the depth (as text).

        Empty (no parameters, no state-dict entries) for models without branches."""
        c, width = self.config, self.width
        hidden = c.branch_hidden_mult * width
        return nn.ModuleDict(
            {
                str(d): nn.Sequential(
                    nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, c.num_classes)
                )
                for d in c.exit_branches
            }
        )

    def init_weights(self) -> None:
        """Family-specific init; the default keeps PyTorch's (as the authors' code does)."""

    def block_kwargs(self, x: Tensor) -> dict[str, Any]:
        """Extra per-input arguments every block receives (e.g. an attention mask)."""
        return {}

    def example_input(
        self, batch_size: int = 2, generator: torch.Generator | None = None
    ) -> Tensor:
        raise NotImplementedError

    def no_weight_decay(self) -> set[str]:
        """Names of parameters that should not be decayed besides norms and biases (embeddings)."""
        return set()

    # -- shared machinery ------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        return self.stack.depth

    def pool(self, rep: Tensor) -> Tensor:
        """Token pooling. Applied before the final norm: for cls pooling with a per-token LayerNorm
        this is the same function as norm-then-pool, and it lets per-depth readout pool each depth
        as it is produced instead of keeping L+1 token tensors."""
        mode = self.pool_mode
        if mode == "cls":
            return rep[:, 0]
        if mode == "mean":
            return rep.mean(dim=1)
        return rep

    def start(self, x: Tensor) -> tuple[Tensor, dict[str, Any]]:
        """Embed ``x``; returns x_0 and the block keyword arguments for this input."""
        return self.embed(x), self.block_kwargs(x)

    def predict(self, rep: Tensor) -> Tensor:
        """Head applied to a representation read off the stack (any depth)."""
        return self.head(self.norm(self.pool(rep)))

    def forward(self, x: Tensor, depth: int | None = None) -> Tensor:
        """Prediction of the network using its first ``depth`` blocks (default: all)."""
        x0, kwargs = self.start(x)
        return self.predict(self.stack(x0, depth, **kwargs))

    def features_per_depth(
        self, x: Tensor, on_step: OnStep | None = None, keep: Tensor | None = None
    ) -> Tensor:
        """Pooled, normed features at depth 0..L, stacked: [L+1, B, ...]; one pass.

        ``on_step(before, after)`` is called with the stack states around every block; ``keep``
        (bool [L, B]) drops block i for the rows where ``keep[i]`` is False (layer dropout)."""
        x0, kwargs = self.start(x)
        pooled = self.stack.per_depth(x0, readout=self.pool, on_step=on_step, keep=keep, **kwargs)
        return self.norm(torch.stack(pooled))

    def logits_per_depth(self, x: Tensor, on_step: OnStep | None = None) -> Tensor:
        """The L+1 predictions of depth 0..L through the model's own head, from ONE forward pass.

        Returns a tensor [L+1, B, ...]: index k is the prediction using the first k blocks, index
        -1 equals ``model(x)``. The head runs once, batched over all depths.
        """
        return self.head(self.features_per_depth(x, on_step))

    def truncate(self, k: int) -> StackModel:
        """A standalone model with the first ``k`` blocks; its output equals
        ``logits_per_depth(x)[k]`` and its parameters are only what it keeps (exit branches at
        depths <= k included)."""
        if not 0 <= k <= self.depth:
            raise ConfigError(f"cannot truncate a depth-{self.depth} model to {k} blocks")
        kept = tuple(d for d in self.config.exit_branches if d <= k)
        small = type(self)(dataclasses.replace(self.config, depth=k, exit_branches=kept))
        state = self.state_dict()
        small.load_state_dict({key: state[key] for key in small.state_dict()})
        ref = next(self.parameters())
        return small.to(device=ref.device, dtype=ref.dtype).train(self.training)

    def num_params(self) -> int:
        """Number of distinct parameters (tied weights counted once)."""
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return f"name={self.config.name!r}, family={self.family!r}"
