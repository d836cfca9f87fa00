"""What goes into an exported graph: the model's logits at one depth, or at every depth.

The wrapper takes plain tensors only (an image/vector batch, or token ids plus Hugging Face's
``attention_mask`` for text models), so an exported file needs nothing from ``acn`` to run. The
batch axis is dynamic; for text the sequence axis is too (up to the model's ``max_len``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.export import Dim

from ..models.base import StackModel


def is_text(model: StackModel) -> bool:
    """Text models take integer token ids (and an attention mask)."""
    return not model.example_input(1).is_floating_point()


class LogitsGraph(nn.Module):
    """``model`` as a graph: logits [B, ...], or with ``all_depths`` [L+1, B, ...] (one pass)."""

    def __init__(self, model: StackModel, all_depths: bool = False) -> None:
        super().__init__()
        self.model = model
        self.all_depths = all_depths
        self.text = is_text(model)

    def forward(self, x: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        inputs = {"attention_mask": attention_mask} if self.text else {}
        if self.all_depths:
            return self.model.logits_per_depth(x, **inputs)
        return self.model(x, **inputs)


@dataclass
class GraphInputs:
    """Positional inputs of a :class:`LogitsGraph`, their names and their dynamic axes."""

    args: tuple[Tensor, ...]
    names: list[str]
    dynamic_shapes: tuple[dict[int, Dim], ...]


def graph_inputs(model: StackModel, x: Tensor) -> GraphInputs:
    """The graph inputs for batch ``x`` (text: ids and the mask of its non-pad tokens)."""
    batch = Dim("batch", min=1, max=2**20)
    if not is_text(model):
        return GraphInputs((x,), ["input"], ({0: batch},))
    seq = Dim("sequence", min=1, max=model.config.max_len)  # type: ignore[attr-defined]
    pad_id = getattr(model.config, "pad_id", None)  # causal LMs (gpt) take left padding masks
    mask = torch.ones_like(x) if pad_id is None else (x != pad_id).to(torch.int64)
    axes = {0: batch, 1: seq}
    return GraphInputs((x, mask), ["input_ids", "attention_mask"], (axes, dict(axes)))


def trace_example(model: StackModel, like: Tensor) -> Tensor:
    """A batch to trace with: 2 samples (batch 1 would be specialised) shaped as the inputs
    ``like`` the graph is checked on and used with; text at full sequence length."""
    x = model.example_input(2, generator=torch.Generator().manual_seed(0))
    if is_text(model):
        return x
    return x.reshape(2, *like.shape[1:]) if x[0].numel() == like[0].numel() else x
