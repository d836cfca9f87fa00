"""The shape every model family shares: embed -> connected stack -> pool -> norm -> head.

Families only say how to embed an input, how to build block i, and what the head is. Everything
about depth lives here and in :mod:`acn.connectivity`: the full forward, the L+1 per-depth
predictions from one pass, and truncation to a standalone k-block model.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..connectivity import (
    ConnectedStack,
    StackState,
    block_residual,
    block_wiring,
    check_depth,
    check_mode,
    connect,
)
from ..errors import ConfigError
from ..wiring import Wiring
from .pretrained import PretrainedIO
from .timm_api import TimmFeatures

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
    # Options of the connectivity modes (acn.connectivity); each mode reads only its own.
    hacn_alpha: float = 0.5  # hacn: initial alpha_i of every block (g_i = 1 - alpha_i), learned
    hacn_attn_skip: bool = True  # hacn: h = x + a_i (the authors' attention-skip variant)
    hyper_streams: int = 4  # hyper, hyper-dynamic: the number n of parallel streams
    laurel_rank: int = 16  # laurel-lr: the rank r of the low-rank term, <= the width


MAX_DEPTH = 10_000  # far beyond any real stack; a typo like depth=200000 is refused
MAX_SIZE = 1 << 24  # bound on every other integer field (widths, vocabulary, lengths)
_NON_NEGATIVE = {"depth", "pad_id"}  # the integer fields that may be 0
_UNIT_INTERVAL = {"dropout", "hacn_alpha"}  # the float fields checked against [0, 1] instead


def check_config(config: ModelConfig) -> None:
    """Types and ranges of every field of a model config, in one-line ConfigErrors.

    Run before anything is allocated, so values read from an untrusted model file or a typo on
    the command line (``dim=0``, ``patch_size=0``, ``dropout=2``, ``depth=200000``) never reach
    a constructor.
    """
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value, hint = getattr(config, f.name), hints[f.name]
        if hint is int:
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"model option {f.name} must be an integer, got {value!r}")
            low = 0 if f.name in _NON_NEGATIVE else 1
            high = MAX_DEPTH if f.name == "depth" else MAX_SIZE
            if not low <= value <= high:
                raise ConfigError(f"model option {f.name} must be in {low}..{high}, got {value}")
        elif hint is float:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ConfigError(f"model option {f.name} must be a number, got {value!r}")
            if f.name == "dropout" and not 0 <= value < 1:
                raise ConfigError(f"model option dropout must be in [0, 1), got {value}")
            if f.name == "hacn_alpha" and not 0 <= value <= 1:
                raise ConfigError(f"model option hacn_alpha must be in [0, 1], got {value}")
            if f.name not in _UNIT_INTERVAL and not (
                math.isfinite(value) and 0 < value <= MAX_SIZE
            ):
                raise ConfigError(f"model option {f.name} must be in (0, {MAX_SIZE}], got {value}")
        elif hint is str and not isinstance(value, str):
            raise ConfigError(f"model option {f.name} must be a string, got {value!r}")
        elif hint is bool and not isinstance(value, bool):
            raise ConfigError(f"model option {f.name} must be true or false, got {value!r}")


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


class StackModel(TimmFeatures, PretrainedIO, nn.Module):
    """Base class of all model families; see the module docstring.

    Public interface: ``depth``, ``forward(x)``, ``logits_per_depth(x)``, ``truncate(k)``,
    ``example_input(batch_size)``, ``config`` (a dataclass) and ``family``; timm's
    ``forward_features``/``forward_head``/``forward_intermediates``/``prune_intermediate_layers``
    (:mod:`acn.models.timm_api`); ``save_pretrained(DIR)`` (:mod:`acn.models.pretrained`).
    Extra keyword inputs (BERT's ``attention_mask``) go to :meth:`block_kwargs`.
    """

    family: ClassVar[str] = ""
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    # The stream has a token axis (images as patches, text): unpooled, the head predicts per token.
    # False for families whose stream is one vector per sample.
    has_tokens: ClassVar[bool] = True
    # The embedding flattens its input, so any input with the right number of values fits.
    flattens_input: ClassVar[bool] = False
    # Connectivity modes the family's blocks cannot take, each with the one-line reason.
    undefined_modes: ClassVar[dict[str, str]] = {}

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        check_config(config)
        mode = check_mode(config.connectivity)
        if mode in self.undefined_modes:
            raise ConfigError(
                f"connectivity {mode!r} is not defined for {self.family} models: "
                f"{self.undefined_modes[mode]}"
            )
        config = _normalise_branches(config)
        self.config = config
        # What a user needs besides the weights (preprocessing, class names, tokenizer), saved in
        # the model file: see acn.models.pretrained. JSON-safe values only.
        self.pretrained_cfg: dict[str, Any] = {}
        wiring = self.wiring()
        wiring.check(self.width)  # before anything is allocated
        residual = block_residual(mode)
        self.embed = self.build_embed()
        blocks = [self.build_block(i, wiring.at(i)) for i in range(config.depth)]
        self.stack: ConnectedStack = connect(
            blocks,
            mode,
            dim=self.width,
            blocks_have_residual=residual,
            **self.wiring_options(),
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

    @property
    def predicts_per_token(self) -> bool:
        """Whether the model gives one prediction per token rather than one per sample."""
        return self.has_tokens and self.pool_mode == "none"

    def build_embed(self) -> nn.Module:
        raise NotImplementedError

    def wiring_options(self) -> dict[str, Any]:
        """The config's connectivity options, as :func:`acn.connectivity.block_wiring` takes them."""
        c = self.config
        return {
            "alpha": c.hacn_alpha,
            "attn_skip": c.hacn_attn_skip,
            "streams": c.hyper_streams,
            "rank": c.laurel_rank,
        }

    def wiring(self) -> Wiring:
        """The constructor-level wiring choice every block of this model is built with."""
        return block_wiring(self.config.connectivity, **self.wiring_options())

    def build_block(self, index: int, wiring: Wiring) -> nn.Module:
        """Block ``index``, built with ``wiring`` (its only connectivity input)."""
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

    def block_kwargs(self, x: Tensor, **inputs: Any) -> dict[str, Any]:
        """Extra per-input arguments every block receives (e.g. an attention mask)."""
        if inputs:
            raise ConfigError(f"{self.family} models take no extra inputs, got {sorted(inputs)}")
        return {}

    def example_input(
        self, batch_size: int = 2, generator: torch.Generator | None = None
    ) -> Tensor:
        raise NotImplementedError

    def no_weight_decay(self) -> set[str]:
        """Parameters that ``decay_params="matrices"`` does not decay besides norms, biases and
        embedding tables (cls tokens, position embeddings)."""
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

    def start(self, x: Tensor, **inputs: Any) -> tuple[Tensor, dict[str, Any]]:
        """Embed ``x``; returns x_0 and the block keyword arguments for this input."""
        return self.embed(x), self.block_kwargs(x, **inputs)

    def feature(self, rep: Tensor) -> Tensor:
        """The pooled, normed feature of a representation read off the stack (any depth): what
        the head (and every exit classifier) reads. The one place the readout is written."""
        return self.norm(self.pool(rep))

    def predict(self, rep: Tensor) -> Tensor:
        """Head applied to a representation read off the stack (any depth)."""
        return self.head(self.feature(rep))

    def forward(self, x: Tensor, depth: int | None = None, **inputs: Any) -> Tensor:
        """Prediction of the network using its first ``depth`` blocks (default: all)."""
        x0, kwargs = self.start(x, **inputs)
        return self.predict(self.stack(x0, depth, **kwargs))

    def features_per_depth(
        self,
        x: Tensor,
        on_step: OnStep | None = None,
        keep: Tensor | None = None,
        **inputs: Any,
    ) -> Tensor:
        """Pooled, normed features at depth 0..L, stacked: [L+1, B, ...]; one pass.

        ``on_step(before, after)`` is called with the stack states around every block; ``keep``
        (bool [L, B]) drops block i for the rows where ``keep[i]`` is False (layer dropout)."""
        x0, kwargs = self.start(x, **inputs)
        return torch.stack(
            self.stack.per_depth(x0, readout=self.feature, on_step=on_step, keep=keep, **kwargs)
        )

    def logits_per_depth(self, x: Tensor, on_step: OnStep | None = None, **inputs: Any) -> Tensor:
        """The L+1 predictions of depth 0..L through the model's own head, from ONE forward pass.

        Returns a tensor [L+1, B, ...]: index k is the prediction using the first k blocks, index
        -1 equals ``model(x)``. The head runs once, batched over all depths.
        """
        return self.head(self.features_per_depth(x, on_step, **inputs))

    def cut_(self, k: int) -> StackModel:
        """Keep only the first ``k`` blocks, in place: the later blocks, their dense-wiring
        weights and the exit branches deeper than ``k`` go, and the config says depth ``k``.

        Every kept module and parameter is the same object as before, so an optimizer built on
        the model keeps its state for them (rebuild its param groups over ``parameters()``).
        The one way a model is cut: :meth:`truncate`, ``prune_intermediate_layers``, auto-cut,
        ``acn compress`` and ``acn export`` all go through it. Returns the model."""
        k = check_depth(k, self.depth)
        self.stack.keep_first(k)
        kept = tuple(d for d in self.config.exit_branches if d <= k)
        for d in self.config.exit_branches:
            if d > k:
                del self.branches[str(d)]
        self.config = dataclasses.replace(self.config, depth=k, exit_branches=kept)
        return self

    def truncate(self, k: int, keep_branches: bool = True) -> StackModel:
        """A standalone copy with the first ``k`` blocks (:meth:`cut_` on a copy); its output
        equals ``logits_per_depth(x)[k]`` and its parameters are only what it keeps (exit
        branches at depths <= k included, unless ``keep_branches`` is False): copies in the
        source's dtype, device and ``requires_grad``, with its ``pretrained_cfg``."""
        k = check_depth(k, self.depth)
        # the blocks and branches the cut drops are never copied: the copy refers to them
        # until cut_ removes them (no memory for them and no draw from any RNG)
        dropped = self.stack.modules_after(k)
        dropped += [b for d, b in self.branches.items() if int(d) > k or not keep_branches]
        small = copy.deepcopy(self, memo={id(m): m for m in dropped})
        small._compiled_call_impl = None  # Module.compile's wrapper is bound to this model
        small.cut_(k)
        if not keep_branches:
            for d in small.config.exit_branches:
                del small.branches[str(d)]
            small.config = dataclasses.replace(small.config, exit_branches=())
        return small

    def num_params(self) -> int:
        """Number of distinct parameters (tied weights counted once)."""
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return f"name={self.config.name!r}, family={self.family!r}"
