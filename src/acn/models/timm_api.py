"""timm's feature-extraction interface on every model, mapped onto the connectivity primitives.

timm models expose ``forward_features`` (embed -> blocks -> norm), ``forward_head`` (pool ->
head), ``forward_intermediates`` (the output of chosen blocks from one pass) and
``prune_intermediate_layers`` (drop what those outputs do not need). Here "the output of block i"
is what the head would read after i+1 blocks (:meth:`ConnectedStack.read`): the residual stream for
a residual model, the partial sum x_0 + x_1 + ... + x_{i+1} for an ACN. So an ACN's
intermediates are exactly the representations its early exits and truncations see.

``forward_head(forward_features(x)) == model(x)`` for every family. The final norm of a model
that pools by mean acts after pooling (timm's ``fc_norm``), so ``forward_features`` returns the
un-normed stream for those and ``forward_head`` norms the pooled vector; everywhere else
``forward_features`` norms every token, as timm's ViT does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from ..errors import ConfigError

FORMATS = ("NCHW", "NLC", "NC")


def take_indices(num_blocks: int, indices: int | Sequence[int] | None) -> tuple[list[int], int]:
    """timm's rule: None = every block, an int n = the last n blocks, a sequence = those block
    indices (negative ones count from the end). Returns the 0-based indices and the largest."""
    if num_blocks < 1:
        raise ConfigError("a model with no blocks has no intermediate layers")
    if indices is None:
        indices = num_blocks
    if isinstance(indices, int):
        if not 0 < indices <= num_blocks:
            raise ConfigError(f"last-n ({indices}) is out of range (1 to {num_blocks})")
        taken = list(range(num_blocks - indices, num_blocks))
    else:
        taken = []
        for i in indices:
            j = num_blocks + i if i < 0 else i
            if not 0 <= j < num_blocks:
                raise ConfigError(f"block index {i} is out of range (0 to {num_blocks - 1})")
            taken.append(j)
        if not taken:
            raise ConfigError("indices must name at least one block")
    return taken, max(taken)


class TimmFeatures:
    """Mixin for :class:`acn.models.base.StackModel`: timm's method names and semantics.

    Uses only the model's ``start``, ``stack`` (start/step/read), ``pool``, ``norm``, ``head``,
    ``pool_mode``, ``depth``, ``cut_`` and, for image families, ``embed.patch.grid`` and
    ``embed.cls_token`` (the prefix token that NCHW/NLC intermediates leave out, as timm does).
    """

    pruned_for_features: bool = False  # set when prune_intermediate_layers drops the head or norm

    # -- what forward_features / forward_head share ----------------------------------------------
    @property
    def _norm_after_pool(self) -> bool:
        return self.pool_mode == "mean"  # type: ignore[attr-defined]

    def _finish_features(self, rep: Tensor) -> Tensor:
        return rep if self._norm_after_pool else self.norm(rep)  # type: ignore[attr-defined]

    @property
    def num_prefix_tokens(self) -> int:
        """Leading tokens that are not image patches (the cls token); 0 for text and vectors."""
        return int(getattr(self.embed, "cls_token", None) is not None)  # type: ignore[attr-defined]

    def _grid(self) -> int | None:
        patch = getattr(self.embed, "patch", None)  # type: ignore[attr-defined]
        return None if patch is None else patch.grid

    # -- timm's methods --------------------------------------------------------------------------
    def forward_features(self, x: Tensor, **inputs: Any) -> Tensor:
        """Embed, run every block, apply the final norm: [B, T, D] tokens ([B, D] for an MLP)."""
        x0, kwargs = self.start(x, **inputs)  # type: ignore[attr-defined]
        return self._finish_features(self.stack(x0, **kwargs))  # type: ignore[attr-defined]

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool the output of :meth:`forward_features` (and norm it, for mean pooling), then the
        head; ``pre_logits=True`` returns what the head would read."""
        x = self.pool(x)  # type: ignore[attr-defined]
        if self._norm_after_pool:
            x = self.norm(x)  # type: ignore[attr-defined]
        return x if pre_logits else self.head(x)  # type: ignore[attr-defined]

    def forward_intermediates(
        self,
        x: Tensor,
        indices: int | Sequence[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str | None = None,
        intermediates_only: bool = False,
        **inputs: Any,
    ) -> list[Tensor] | tuple[Tensor, list[Tensor]]:
        """The output of the blocks in ``indices`` (see :func:`take_indices`), in block order,
        from one pass; with ``norm`` each goes through the final norm.

        ``output_fmt``: ``NCHW`` (image patches on their grid, prefix token left out; the default
        for image models, as timm), ``NLC`` (tokens; image models leave the prefix token out; the
        default for text) or ``NC`` (vector models). ``stop_early`` runs no block after the last
        one asked for; the returned final features are then those of that depth. Returns
        ``(final_features, intermediates)``, or only the list with ``intermediates_only``.
        """
        taken, last = take_indices(self.depth, indices)  # type: ignore[attr-defined]
        stack = self.stack  # type: ignore[attr-defined]
        x0, kwargs = self.start(x, **inputs)  # type: ignore[attr-defined]
        fmt = self._check_format(output_fmt)
        state = stack.start(x0)
        intermediates = []
        for i in range(last + 1 if stop_early else stack.depth):
            state = stack.step(state, **kwargs)
            if i in taken:
                rep = stack.read(state)
                intermediates.append(self._to_format(self.norm(rep) if norm else rep, fmt))  # type: ignore[attr-defined]
        if intermediates_only:
            return intermediates
        return self._finish_features(stack.read(state)), intermediates

    def prune_intermediate_layers(
        self,
        indices: int | Sequence[int] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Keep only the blocks up to the last of ``indices`` (in place), and optionally replace
        the final norm and the head by identities. Returns the kept indices."""
        taken, last = take_indices(self.depth, indices)  # type: ignore[attr-defined]
        self.cut_(last + 1)  # type: ignore[attr-defined]
        if prune_norm:
            self.norm = nn.Identity()
        if prune_head:
            self.head = nn.Identity()
        # a feature extractor, no longer the classifier its config describes: model files refuse it
        self.pruned_for_features = bool(prune_norm or prune_head or self.pruned_for_features)
        return taken

    # -- output formats --------------------------------------------------------------------------
    def _check_format(self, output_fmt: str | None) -> str:
        native = "NCHW" if self._grid() is not None else "NLC"
        if not self.has_tokens:  # type: ignore[attr-defined]
            native = "NC"
        fmt = output_fmt or native
        allowed = {"NC": ("NC",), "NLC": ("NLC",), "NCHW": ("NCHW", "NLC")}[native]
        if fmt not in allowed:
            raise ConfigError(
                f"output_fmt {fmt!r} does not fit this model; choose {' or '.join(allowed)}"
            )
        return fmt

    def _to_format(self, rep: Tensor, fmt: str) -> Tensor:
        if fmt == "NC":
            return rep
        rep = rep[:, self.num_prefix_tokens :]
        if fmt == "NLC":
            return rep
        g = self._grid()
        return rep.reshape(rep.shape[0], g, g, rep.shape[-1]).permute(0, 3, 1, 2).contiguous()
